"""dask-gateway-server for Cygnet: the site's shared Dask clusters, each user's their own.

`cygnet hub` runs it as a hub-managed service (`CygnetHub.dask_gateway`): the gateway checks
each request's JupyterHub token (dask-gateway's JupyterHubAuthenticator), so a user lists,
scales and stops only their own clusters. Its configuration file is two lines that call
`configure(c, settings)` here, with settings Cygnet wrote as JSON beside it:

- cluster options users pick (the compute panel, `%dask connect --option`): worker cores and
  memory within the site's limits, and the **view** the scheduler and workers run in (the
  kernel's by default), as Spark executors run in the kernel's view; the views under the views
  roots are looked at again when the options are asked for (at most every 30 s);
- `idle_timeout`: a cluster no client has used for that long stops itself, the gateway's own
  guard for kernels that vanish (Cygnet's server also stops a dead kernel's clusters at once);
- the backend: processes on this machine, as the user's Unix account (LocalBackend, when the hub
  runs as root with per-user accounts) or as the hub's own (UnsafeLocalBackend), or Slurm jobs of
  the user (`CygnetHub.dask_gateway_backend = "slurm"`, SlurmBackend);
- Cygnet's kernel-side packages on the scheduler's and workers' path (`python_path`), as on a
  kernel's: tasks that read root:// or box URLs through Cygnet's fsspec adapters (zarr, parquet)
  run on the workers.
"""

import json
import shlex
import time
from pathlib import Path

CONFIG_PY = """# Written by Cygnet (cygnet.hub.dask_gateway): the gateway's settings are in the JSON beside it.
from cygnet.hub.dask_gateway import configure

configure(c, {settings!r})
"""


# Where each cluster's scheduler and workers run (the settings' "backend"):
BACKENDS = {
    # this machine, as the gateway's own account (sessions that all run as the hub's account)
    "unsafe-local": "dask_gateway_server.backends.local.UnsafeLocalBackend",
    # this machine, as the user's account (LocalBackend's own set-up chowns "/": see the module)
    "local": "cygnet.hub.dask_gateway_backend.UserLocalBackend",
    # Slurm jobs of the user's account
    "slurm": "cygnet.hub.dask_gateway_backend.UserSlurmBackend",
}


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


def view_command(setup_sh, module, python_path=None):
    """A command that enters the view (its setup.sh) and runs `python -m module` there with
    the arguments the gateway appends; `python_path` goes first on the view's PYTHONPATH."""
    script = f"source {shlex.quote(str(setup_sh))} >/dev/null 2>&1"
    if python_path:
        script += f' && export PYTHONPATH={shlex.quote(str(python_path))}"${{PYTHONPATH:+:$PYTHONPATH}}"'
    script += f' && exec python -m {module} "$@"'
    return ["/bin/bash", "-c", script, module]


def workers_python_path(kernel_packages, folder=None):
    """The folder that puts Cygnet's kernel-side packages (and nothing else of the service) on a
    gateway scheduler's and workers' path, as on a kernel's. By default under the service's own
    prefix, which every account that runs the service's Python can read (the hub's folder is
    its own, 0700); None, said, when that cannot be written."""
    import sys

    from cygnet.kernels.isolation import kernel_side_path

    try:
        return str(kernel_side_path(kernel_packages, folder or Path(sys.prefix) / "share" / "cygnet"))
    except OSError as e:
        from .setup import say

        say(f"gateway workers get no Cygnet packages (root:// and box URLs need them there): {e}")
        return None


def configure(c, settings_path):
    """Set the gateway's traitlets config `c` from Cygnet's settings file."""
    from dask_gateway_server.options import Float, Integer, Options, Select, String

    s = json.loads(Path(settings_path).read_text())
    c.DaskGateway.address = s["address"]
    c.Proxy.address = s["proxy_address"]
    if s.get("prefix"):  # served under the hub's route to it too (/hub base/services/dask-gateway)
        c.Proxy.prefix = s["prefix"]
    c.DaskGateway.log_level = s.get("log_level", "INFO")
    if s.get("auth") == "jupyterhub":
        c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
        if s.get("hub_api_url"):
            c.JupyterHubAuthenticator.jupyterhub_api_url = s["hub_api_url"]
    else:  # tests and single-user machines: a user name, no password
        c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
    backend = s.get("backend", "unsafe-local")
    as_users = backend != "unsafe-local"
    c.DaskGateway.backend_class = BACKENDS[backend]
    if s.get("clusters_directory"):  # else the gateway's own: a private temporary folder per cluster
        c.LocalBackend.clusters_directory = s["clusters_directory"]
    if s.get("db_url"):  # a database on disk keeps clusters' secrets encrypted, with this key
        c.DBBackendBase.db_url = s["db_url"]
        c.DBBackendBase.db_encrypt_keys = [Path(s["encrypt_key_file"]).read_text().strip()]
    if backend == "slurm":
        slurm = s.get("slurm") or {}
        for key in ("partition", "account", "qos"):
            setattr(c.SlurmClusterConfig, key, slurm.get(key, ""))
        c.SlurmClusterConfig.scheduler_cores = 1
        c.SlurmClusterConfig.scheduler_memory = f"{int(float(slurm.get('scheduler_memory_gib', 1.0)) * 1024)}M"
    c.ClusterConfig.idle_timeout = float(s.get("idle_timeout", 1800))
    c.ClusterConfig.cluster_max_workers = int(s.get("max_workers", 20))
    c.ClusterConfig.worker_threads = None

    max_cores, max_memory = int(s.get("max_worker_cores", 4)), float(s.get("max_worker_memory_gib", 8))
    python_path = s.get("python_path")

    def options_for(views):  # views: name -> setup.sh
        if not views:
            from dask_gateway_server.backends.base import PublicException

            raise PublicException("no usable views under the views roots: the gateway has nowhere to run workers")

        def handler(options, user):
            setup = views[options.view]
            config = {
                "worker_cores": options.worker_cores,
                "worker_memory": f"{options.worker_memory}G",
                "scheduler_cmd": view_command(setup, "distributed.cli.dask_scheduler", python_path),
                "worker_cmd": view_command(setup, "distributed.cli.dask_worker", python_path),
            }
            if options.get("kerberos_cache"):
                config["environment"] = {"KRB5CCNAME": checked_cache(options.kerberos_cache)}
            return config

        default_view = s.get("default_view") if s.get("default_view") in views else sorted(views)[0]
        fields = [
            Integer("worker_cores", default=1, min=1, max=max_cores, label="Worker cores"),
            Float("worker_memory", default=min(2.0, max_memory), min=0.25, max=max_memory, label="Worker memory (GiB)"),
            Select("view", options=sorted(views), default=default_view, label="View"),
        ]
        if as_users:
            # Workers as the user read root:// with the session's ticket (the kernel fills this in).
            # Not offered when every cluster runs as the hub's account: a user could name another's.
            fields.append(String("kerberos_cache", label="Kerberos ticket cache (the session's)"))
        return Options(*fields, handler=handler)

    # The views roots are looked at again (at most every 30 s), so releases added to them are
    # offered without restarting the hub.
    views_now = current_views(s["views_roots"], float(s.get("views_refresh_seconds", 30)))
    c.Backend.cluster_options = lambda user: options_for(views_now())


def current_views(roots, refresh_seconds):
    """A function that returns the usable views under `roots` (name -> setup.sh), scanned again
    when the last scan is more than `refresh_seconds` old."""
    from cygnet.views import discover

    last = {"at": None, "views": {}}

    def views():
        now = time.monotonic()
        if last["at"] is None or now - last["at"] >= refresh_seconds:
            last["views"] = {v.name: str(Path(v.path) / "setup.sh") for v in discover(roots) if v.usable}
            last["at"] = now
        return last["views"]

    return views


def checked_cache(value):
    """A ticket cache a user's own workers may use: a file (FILE:/absolute/path) the account
    reads anyway; anything else is refused."""
    if not value.startswith("FILE:/") or any(ord(ch) < 32 for ch in value) or "/../" in value:
        raise ValueError(f"kerberos_cache is FILE:/path of the session's ticket cache, not {value!r}")
    return value


def encrypt_key(folder):
    """The gateway database's encryption key: made once, readable by the hub's account only."""
    import os

    from cryptography.fernet import Fernet

    path = Path(folder) / "encrypt_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode() + "\n")
    return path


def add_gateway_service(c, hub, folder):
    """dask-gateway as a hub-managed service: its config written under the hub's folder, every
    user (and each session's token) allowed to call it, and sessions told where it is
    ($CYGNET_DASK_GATEWAY_URL, which their catalogue turns into the cluster 'dask-gateway')."""
    import os
    import sys

    from cygnet.core import contract
    from cygnet.core.config import Cygnet
    from cygnet.views import discover

    from .setup import add_service, free_port, grant_user_access, say, site_value

    name = "dask-gateway"
    port = hub.dask_gateway_port or free_port()  # its public face: the API, dashboards, schedulers' TLS
    private_port = free_port()  # its own API server, behind that proxy
    prefix = c.JupyterHub.get("base_url", "/").rstrip("/") + f"/services/{name}"
    cygnet = Cygnet(config=c)
    roots = [str(root) for root in cygnet.effective_views_roots()]
    if not any(v.usable for v in discover(roots)):
        say("no usable views: the Dask gateway is not started (its workers run in a view)")
        return
    local_spawner = c.JupyterHub.get("spawner_class") == "cygnet.hub.spawner.CygnetLocalSpawner"
    if local_spawner and hub.dask_gateway_backend == "slurm":
        say(
            "the Dask gateway is not started: its Slurm backend submits jobs as each user's account, "
            "and sessions here all run as the hub's (use cygnet.hub.spawner.CygnetSystemUserSpawner)"
        )
        return
    host = hub.dask_gateway_host
    state = Path(folder) / name
    settings = {
        "address": f"{host}:{private_port}",
        "proxy_address": f"{host}:{port}",
        "prefix": prefix,
        "auth": "jupyterhub",
        # Sessions under the hub's own account: clusters too. Users as themselves: theirs too,
        # with the gateway's private temporary folders (users cannot pass through the hub's), or
        # as Slurm jobs of theirs.
        "backend": "unsafe-local" if local_spawner else hub.dask_gateway_backend,
        "slurm": {
            "partition": hub.dask_gateway_slurm_partition,
            "account": hub.dask_gateway_slurm_account,
            "scheduler_memory_gib": hub.dask_gateway_scheduler_memory,
        },
        "clusters_directory": str(state / "clusters") if local_spawner else None,
        "python_path": workers_python_path(cygnet.kernel_packages),
        "db_url": f"sqlite:///{state / 'gateway.sqlite'}",
        "idle_timeout": hub.dask_gateway_idle_timeout,
        "max_workers": hub.dask_gateway_max_workers,
        "max_worker_cores": hub.dask_gateway_max_worker_cores,
        "max_worker_memory_gib": hub.dask_gateway_max_worker_memory,
        "views_roots": roots,
    }
    settings["encrypt_key_file"] = str(encrypt_key(state))
    config = write_config(state, settings)
    service = {
        "name": name,
        "url": f"http://{host}:{port}",
        "command": [os.path.join(os.path.dirname(sys.executable), "dask-gateway-server"), "-f", str(config)],
        "display": False,  # an API (and clusters' dashboards), not a page
        "environment": {"PATH": os.environ.get("PATH", "")},
    }
    if not add_service(c, service):
        return
    grant_user_access(c, name)
    c.Spawner.environment = {
        **site_value(c.Spawner, "environment", {}),
        contract.DASK_GATEWAY_URL.name: f"http://{host}:{port}{prefix}",
        contract.DASK_GATEWAY_PROXY.name: f"gateway://{host}:{port}",
    }
