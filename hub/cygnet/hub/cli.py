"""`cygnet hub`: the multi-user service, a real JupyterHub with Cygnet's spawner and form."""

import os
import sys

from cygnet.core import contract
from cygnet.core.errors import BadInput


def register(subparsers):
    p = subparsers.add_parser(
        "hub",
        help="start the multi-user service (JupyterHub with Cygnet's spawner)",
        description="Start JupyterHub with Cygnet's spawner and form. Other JupyterHub options "
        "(--JupyterHub.*, --Authenticator.*, ...) are passed on; -f/--config names the site's "
        "jupyterhub_config.py, read first: Cygnet's defaults fill only what it leaves unset.",
    )
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("-f", "--config", help="the site's jupyterhub_config.py")
    p.set_defaults(func=hub_command, forwards_unknown_args=True)


def hub_command(args, extra):
    from .setup import free_port, hub_dir

    if not 0 < args.port < 65536:
        raise BadInput(f"--port must be between 1 and 65535, not {args.port}")
    env = dict(os.environ)
    if args.config:
        if not os.path.isfile(args.config):
            raise BadInput(f"--config {args.config!r} is not a file")
        env[contract.HUB_SITE_CONFIG.name] = os.path.abspath(args.config)
    env.setdefault(contract.HUB_API_PORT.name, str(free_port()))
    env.setdefault(contract.HUB_PROXY_API_PORT.name, str(free_port()))
    env.setdefault(contract.HUB_SHARES_PORT.name, str(free_port()))
    env.setdefault(contract.HUB_RUNS_PORT.name, str(free_port()))
    folder = hub_dir()
    print(f"cygnet: the hub's state is in {folder}", file=sys.stderr, flush=True)
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hub_config.py")
    argv = [sys.executable, "-m", "jupyterhub", "-f", config, f"--ip={args.ip}", f"--port={args.port}", *extra]
    os.execve(sys.executable, argv, env)  # the hub replaces this process: signals reach it as they are
