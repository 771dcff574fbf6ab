"""dask-gateway-server for Cygnet: the site's shared Dask clusters, each user's their own.

`cygnet hub` runs it as a hub-managed service (`CygnetHub.dask_gateway`): the gateway checks
each request's JupyterHub token (dask-gateway's JupyterHubAuthenticator), so a user lists,
scales and stops only their own clusters. Its configuration file is two lines that call
`configure(c, settings)` here, with settings Cygnet wrote as JSON beside it:

- cluster options users pick (the compute panel, `%dask connect --option`): worker cores and
  memory within the site's limits, and the **view** the scheduler and workers run in (the
  kernel's by default), as Spark executors run in the kernel's view;
- `idle_timeout`: a cluster no client has used for that long stops itself, the gateway's own
  guard for kernels that vanish (Cygnet's server also stops a dead kernel's clusters at once);
- the local backend: processes on this machine, as the user's Unix account (LocalBackend, when
  the hub runs as root with per-user accounts) or as the hub's own (UnsafeLocalBackend).
"""

import json
import shlex
from pathlib import Path

CONFIG_PY = """# Written by Cygnet (cygnet.hub.dask_gateway): the gateway's settings are in the JSON beside it.
from cygnet.hub.dask_gateway import configure

configure(c, {settings!r})
"""


def write_config(folder, settings):
    """The gateway's config file in `folder`, for `dask-gateway-server -f`; its path."""
    from cygnet.core.atomic import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings_path = folder / "dask_gateway_settings.json"
    atomic_write(settings_path, json.dumps(settings, indent=2, sort_keys=True))
    config_path = folder / "dask_gateway_config.py"
    atomic_write(config_path, CONFIG_PY.format(settings=str(settings_path)))
    return config_path


def view_command(setup_sh, module):
    """A command that enters the view (its setup.sh) and runs `python -m module` there with
    the arguments the gateway appends."""
    script = f'source {shlex.quote(str(setup_sh))} >/dev/null 2>&1 && exec python -m {module} "$@"'
    return ["/bin/bash", "-c", script, module]


def configure(c, settings_path):
    """Set the gateway's traitlets config `c` from Cygnet's settings file."""
    from dask_gateway_server.options import Float, Integer, Options, Select

    s = json.loads(Path(settings_path).read_text())
    c.DaskGateway.address = s["address"]
    c.Proxy.address = s["proxy_address"]
    c.DaskGateway.log_level = s.get("log_level", "INFO")
    if s.get("auth") == "jupyterhub":
        c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
        if s.get("hub_api_url"):
            c.JupyterHubAuthenticator.jupyterhub_api_url = s["hub_api_url"]
    else:  # tests and single-user machines: a user name, no password
        c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
    unsafe = s.get("backend", "unsafe-local") == "unsafe-local"
    backend = "UnsafeLocalBackend" if unsafe else "LocalBackend"
    c.DaskGateway.backend_class = f"dask_gateway_server.backends.local.{backend}"
    c.LocalBackend.clusters_directory = s["clusters_directory"]
    if s.get("db_url"):
        c.LocalBackend.db_url = s["db_url"]
    c.ClusterConfig.idle_timeout = float(s.get("idle_timeout", 1800))
    c.ClusterConfig.cluster_max_workers = int(s.get("max_workers", 20))
    c.ClusterConfig.worker_threads = None

    views = s["views"]  # name -> setup.sh
    max_cores, max_memory = int(s.get("max_worker_cores", 4)), float(s.get("max_worker_memory_gib", 8))

    def handler(options, user):
        setup = views[options.view]
        return {
            "worker_cores": options.worker_cores,
            "worker_memory": f"{options.worker_memory}G",
            "scheduler_cmd": view_command(setup, "distributed.cli.dask_scheduler"),
            "worker_cmd": view_command(setup, "distributed.cli.dask_worker"),
        }

    c.Backend.cluster_options = Options(
        Integer("worker_cores", default=1, min=1, max=max_cores, label="Worker cores"),
        Float("worker_memory", default=min(2.0, max_memory), min=0.25, max=max_memory, label="Worker memory (GiB)"),
        Select("view", options=sorted(views), default=s.get("default_view") or sorted(views)[0], label="View"),
        handler=handler,
    )
