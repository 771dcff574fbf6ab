"""`cygnet up`: the embedded default service, a real Jupyter server with JupyterLab."""

import os
import sys

from cygnet.core.config import load_config
from cygnet.core.errors import BadInput


def register(subparsers):
    p = subparsers.add_parser(
        "up",
        help="start the Cygnet service (JupyterLab with Cygnet)",
        description="Start JupyterLab with Cygnet. Any other Jupyter option (--ServerApp.*, "
        "--IdentityProvider.token, ...) and --Cygnet.* option is passed on; JUPYTER_TOKEN works too.",
    )
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: Jupyter's, 8888 or the next free one)")
    p.add_argument(
        "--root",
        help="the folder users see in the file browser (default: ~/cygnet, made on first "
        "start, unless the Jupyter configuration names one)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.set_defaults(func=up_command, forwards_unknown_args=True)


ROOT_OPTIONS = ("root_dir", "root-dir", "notebook_dir", "notebook-dir")
DEFAULT_WORKSPACE = "~/cygnet"


def up_command(args, extra):
    config = load_config([a for a in extra if a.startswith("--Cygnet.")])
    if config.build_default_view:
        ensure_a_view(config)
    from jupyterlab.labapp import LabApp

    if not args.root and not _root_configured(config.config, extra):
        # A workspace of its own, not whatever folder the command ran in (a source checkout).
        args.root = os.path.expanduser(DEFAULT_WORKSPACE)
        os.makedirs(args.root, exist_ok=True)
        print(f"cygnet: the workspace is {args.root} (choose another with --root)", file=sys.stderr, flush=True)
    LabApp.launch_instance(argv=jupyter_argv(args, extra))


def _root_configured(loaded, extra):
    """Whether a configuration file or an option (a spawner's --notebook-dir) names the folder."""
    server = loaded.get("ServerApp", {})
    return any(k in server for k in ("root_dir", "notebook_dir")) or any(
        any(o in a for o in ROOT_OPTIONS) for a in extra
    )


def jupyter_argv(args, extra):
    argv = [f"--ServerApp.ip={args.ip}"]
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise BadInput(f"--port must be between 1 and 65535, not {args.port}")
        argv.append(f"--ServerApp.port={args.port}")
    if args.root:
        if not os.path.isdir(args.root):
            raise BadInput(f"--root {args.root!r} is not a folder")
        argv.append(f"--ServerApp.root_dir={os.path.abspath(args.root)}")
    if args.no_browser:
        argv.append("--no-browser")
    if os.geteuid() == 0:
        argv.append("--allow-root")  # jupyter_server refuses root otherwise; containers run as root
    return argv + list(extra)


def ensure_a_view(config):
    """With no usable view anywhere, build 'default' from this Python so kernels work."""
    from cygnet.views.first_start import ensure_default_view

    ensure_default_view(config.effective_views_roots(), config.local_views_root)
