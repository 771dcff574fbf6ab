"""The embedded default of `cygnet hub`: state under <data_dir>/hub/, Cygnet's spawner and form,
JupyterHub's shared-password authenticator, configurable-http-proxy, loopback ports chosen by
`cygnet hub` (so hubs never collide on one machine)."""

import copy
import ipaddress
import logging
import os
import secrets
import shutil
import sys

from traitlets import Bool, Enum, Float, Integer, Unicode
from traitlets.config import Configurable
from traitlets.config.loader import LazyConfigValue

from cygnet.core import contract
from cygnet.core.atomic import atomic_write
from cygnet.core.loopback import free_port

PROXY_LOCATIONS = ("hub/proxy/node_modules/.bin/configurable-http-proxy",)


def hub_dir():
    from cygnet.core.datadir import default_data_dir

    return contract.HUB_DIR.get() or os.path.join(default_data_dir(), "hub")


def shared_password(folder):
    """The password users log in with (any user name): made once, kept in a 0600 file, never
    printed or logged."""
    path = os.path.join(folder, "password")
    if not os.path.exists(path):
        atomic_write(path, secrets.token_urlsafe(18) + "\n", mode=0o600)
    with open(path) as f:
        return f.read().strip()


def proxy_command():
    """configurable-http-proxy (beside this Python, as `make` links it; on PATH; or the
    repository's hub/proxy install), run by the venv's own node when there is one, so the hub
    needs no system Node.js."""
    bin_dir = os.path.dirname(sys.executable)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    candidates = [os.path.join(bin_dir, "configurable-http-proxy"), shutil.which("configurable-http-proxy")]
    candidates += [os.path.join(root, rel) for rel in PROXY_LOCATIONS]
    script = next((c for c in candidates if c and os.path.exists(c)), None)
    if script is None:
        return ["configurable-http-proxy"]  # JupyterHub then names what is missing
    node = os.path.join(bin_dir, "node")
    return [node, os.path.realpath(script)] if os.path.exists(node) else [script]


class CygnetHub(Configurable):
    """Settings of `cygnet hub` beyond JupyterHub's own (c.CygnetHub.* in the site's file)."""

    cull_idle_timeout = Integer(
        3600, help="Seconds a session may stay idle before jupyterhub-idle-culler stops it (0: never)."
    ).tag(config=True)
    cull_every = Integer(60, help="Seconds between the culler's checks.").tag(config=True)
    shares = Bool(
        True,
        help="Run the share service (cygnet-shares) so share links outlive sessions and users share "
        "with each other by name. Off: every session keeps its own embedded store.",
    ).tag(config=True)
    shares_url = Unicode(
        help="Where the share service keeps snapshots: a folder, a webdav(s):// or a root:// URL. "
        "Default: <hub data dir>/shares/snapshots.",
    ).tag(config=True)
    share_max_bytes = Integer(
        int(contract.SHARE_MAX_BYTES.default), help="Largest file or folder (bytes) a user can share."
    ).tag(config=True)
    shares_port = Integer(0, help="Port of the share service (0: a free one).").tag(config=True)
    shares_host = Unicode(
        "127.0.0.1",
        help="The address or name the proxy and sessions reach the share service by. An address "
        "(the hub host's, for sessions in containers) is where the service listens; a name (the "
        "proxy in a pod of its own, as in Zero to JupyterHub: 'hub') makes it listen on all interfaces.",
    ).tag(config=True)
    shares_connect_url = Unicode(
        help="How sessions reach the share service, when not at http://<shares_host>:<shares_port> "
        "(containers, Kubernetes): e.g. http://hub:8181/services/cygnet-shares/.",
    ).tag(config=True)
    shared_folders_root = Unicode(
        "/var/lib/cygnet/shared-folders",
        help="Where live shared folders live while shared (the share service moves them here, behind a "
        "door per folder that only their members pass): on the same file system as the homes, so a "
        "share is a rename, and with every folder above it passable (o+x) by all accounts. Needs the "
        "hub to run as root with an account per user (CygnetSystemUserSpawner) and setfacl (Debian's "
        "acl). Empty: no live shared folders (shares are copies).",
    ).tag(config=True)
    runs = Bool(
        True,
        help="Run the runs service (cygnet-runs): a session stopped by the culler or its user is started "
        "again (with its user's last choices) when one of its schedules is due or a run notification is to "
        "be retried, so schedules fire while nobody is logged in. Off: schedules fire only while the "
        "owner's session runs.",
    ).tag(config=True)
    runs_port = Integer(0, help="Port of the runs service (0: a free one); it listens on 127.0.0.1.").tag(config=True)
    runs_connect_url = Unicode(
        help="How sessions reach the runs service, when not at http://127.0.0.1:<runs_port> (containers: "
        "through the hub's proxy, e.g. http://proxy:8000/services/cygnet-runs/).",
    ).tag(config=True)
    runs_wake_lead = Integer(
        60,
        help="Seconds before a schedule's slot the runs service starts a stopped session, so that the "
        "session is up when the slot comes: more for spawners that take long (batch queues, images).",
    ).tag(config=True)
    session_sharing = Bool(
        True,
        help="Let users share their running session with named colleagues (JupyterHub 5's shares: "
        "Share session… in JupyterLab, `cygnet share --session`). Users' role and each session's token "
        "gain `shares!user` and `read:users:name` (so users can look up each other's names). Off: "
        "only an admin's roles share servers.",
    ).tag(config=True)
    dask_gateway = Bool(
        False,
        help="Run dask-gateway-server as a hub service (dask-gateway), with JupyterHub authentication: "
        "every session's catalogue then offers the Dask cluster 'dask-gateway', each user's clusters "
        "their own. Its schedulers and workers run on this machine, in the view the user picks.",
    ).tag(config=True)
    dask_gateway_port = Integer(0, help="Port of the gateway's API and dashboards (0: a free one).").tag(config=True)
    dask_gateway_backend = Enum(
        ["local", "slurm"],
        "local",
        help="Where the gateway runs each user's schedulers and workers, as the user's own account: 'local' "
        "(processes on this machine) or 'slurm' (Slurm jobs of the user, submitted with the Slurm tools on "
        "the hub's machine; staging files go in ~/.dask-gateway, which the nodes must see). Both need the hub "
        "to run as root with an account per user; with the embedded spawner clusters run as the hub's account.",
    ).tag(config=True)
    dask_gateway_host = Unicode(
        "127.0.0.1",
        help="The address the gateway's API and proxy listen on, and sessions and schedulers reach them by: "
        "127.0.0.1 while everything runs on this machine; this machine's address on the cluster network "
        "when schedulers are Slurm jobs on other nodes.",
    ).tag(config=True)
    dask_gateway_slurm_partition = Unicode(help="The Slurm partition gateway jobs go to (default: Slurm's).").tag(
        config=True
    )
    dask_gateway_slurm_account = Unicode(
        help="The Slurm account gateway jobs are charged to (default: the user's)."
    ).tag(config=True)
    dask_gateway_scheduler_memory = Float(
        1.0, help="Memory (GiB) a gateway cluster's scheduler job asks Slurm for (it gets one core)."
    ).tag(config=True)
    dask_gateway_idle_timeout = Integer(
        1800, help="Seconds a gateway cluster with no client lives on before it stops itself (0: never)."
    ).tag(config=True)
    dask_gateway_max_workers = Integer(20, help="Most workers one gateway cluster may have.").tag(config=True)
    dask_gateway_max_worker_cores = Integer(4, help="Most cores a user may give each gateway worker.").tag(config=True)
    dask_gateway_max_worker_memory = Float(8.0, help="Most memory (GiB) a user may give each gateway worker.").tag(
        config=True
    )


def say(line):
    print(f"cygnet: {line}", file=sys.stderr, flush=True)


def configure(c):
    """Cygnet's defaults, for what the site's configuration left unset."""
    folder = hub_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    hub = CygnetHub(config=c)
    scrub_hub_log()

    def default(section, key, value):
        if key not in c[section]:
            c[section][key] = value
        elif isinstance(c[section][key], LazyConfigValue):  # the site appended to it: to ours
            c[section][key] = c[section][key].get_value(value)

    hub_db = os.path.join(folder, "jupyterhub.sqlite")
    default("JupyterHub", "db_url", "sqlite:///" + hub_db)
    if c.JupyterHub.db_url == "sqlite:///" + hub_db:
        from .hub_db import fast_commits

        fast_commits(hub_db)
    default("JupyterHub", "cookie_secret_file", os.path.join(folder, "cookie_secret"))
    default("JupyterHub", "pid_file", os.path.join(folder, "jupyterhub.pid"))
    if contract.HUB_API_PORT.get():
        default("JupyterHub", "hub_ip", "127.0.0.1")
        default("JupyterHub", "hub_port", int(contract.HUB_API_PORT.get()))
    default("ConfigurableHTTPProxy", "command", proxy_command())
    default("ConfigurableHTTPProxy", "pid_file", os.path.join(folder, "proxy.pid"))
    if contract.HUB_PROXY_API_PORT.get():
        default("ConfigurableHTTPProxy", "api_url", f"http://127.0.0.1:{contract.HUB_PROXY_API_PORT.get()}")
    # Shared password: works on a fresh machine with no accounts, and every user still has a
    # name of their own. Sites set any authenticator (OAuth/OIDC, LDAP, Kerberos) in their file.
    if "authenticator_class" not in c.JupyterHub:
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = shared_password(folder)
        default("Authenticator", "allow_all", True)
        say(f"users log in with any name and the password in {os.path.join(folder, 'password')}")
    default("JupyterHub", "spawner_class", "cygnet.hub.spawner.CygnetLocalSpawner")
    # Several sessions of one user at once (one on a GPU view, one on CPU), each with its own
    # form choices; what Cygnet keeps per user (port leases, managed Connect servers, schedules)
    # is shared safely between them.
    default("JupyterHub", "allow_named_servers", True)
    default("JupyterHub", "named_server_limit_per_user", 3)
    if c.JupyterHub.spawner_class == "cygnet.hub.spawner.CygnetLocalSpawner":
        say(
            "every session runs under this account, with NO isolation between users: for trials and "
            "single-tenant machines. Real sites run users as themselves (cygnet.hub.spawner."
            "CygnetSystemUserSpawner, or SystemdSpawner, DockerSpawner, KubeSpawner with CygnetSpawnerMixin)."
        )
    default("CygnetLocalSpawner", "home_dir_template", os.path.join(folder, "users", "{username}"))
    offer_a_view(c, folder)
    default("Spawner", "default_url", "/lab")
    if not runs_in_containers(c.JupyterHub.spawner_class):
        # Sessions run this host's (or a shared filesystem's) Cygnet; a session image has its own.
        default("Spawner", "cmd", [singleuser_command()])
        default("Spawner", "args", ["--allow-root"] if os.geteuid() == 0 else [])
        default(
            "Spawner",
            "env_keep",
            [
                "PATH",
                "LANG",
                "LC_ALL",
                "VIRTUAL_ENV",
                contract.VIEWS_PATH.name,
                "JAVA_HOME",
                "SPARK_LOCAL_IP",
                "JUPYTERHUB_SINGLEUSER_APP",
            ],
        )
    default("Spawner", "http_timeout", 120)
    default("Spawner", "start_timeout", 120)
    default("CygnetSlurmSpawner", "start_timeout", 900)  # a session's job may wait in the queue
    default("Spawner", "usage_ledger", os.path.join(folder, "usage.sqlite"))
    add_usage_page(c, c.Spawner.usage_ledger)
    if hub.cull_idle_timeout > 0:
        add_culler(c, hub.cull_idle_timeout, hub.cull_every)
    if hub.session_sharing:
        grant_users(c, ["shares!user", "read:users:name"])
    if hub.shares:
        add_shares_service(c, hub, folder)
    if hub.runs:
        add_runs_service(c, hub, folder)
    if hub.dask_gateway:
        from .dask_gateway import add_gateway_service

        add_gateway_service(c, hub, folder)


def add_usage_page(c, ledger):
    """The usage ledger's admin page, /hub/cygnet-usage, and the API sessions report their
    cluster usage to (none when the site turned the ledger off): among the hub's own pages and
    APIs (JupyterHub.extra_handlers, the trait for this, is deprecated)."""
    from jupyterhub import handlers

    from .usage_api import UsageReportHandler
    from .usage_page import UsagePage

    ours = (UsagePage, UsageReportHandler)
    handlers.default_handlers[:] = [h for h in handlers.default_handlers if h[0] not in {k.route for k in ours}]
    if ledger:
        handlers.default_handlers.extend((handler.route, handler, {"ledger": ledger}) for handler in ours)


def offer_a_view(c, folder):
    """A first start with no usable view builds 'default' as `cygnet up` does (saying so, once),
    under the hub's folder, and hands its root to sessions ($CYGNET_VIEWS_PATH, which the spawner
    keeps). Only where sessions run under the hub's account: per-account sessions could not read
    it, so there the site is told what to do instead."""
    from cygnet.core.config import Cygnet
    from cygnet.views import discover

    config = Cygnet(config=c)
    roots = config.effective_views_roots()
    root = os.path.join(folder, "views")
    if any(v.usable for v in discover(roots)):
        return
    if c.JupyterHub.spawner_class != "cygnet.hub.spawner.CygnetLocalSpawner" or not config.build_default_view:
        say(
            "the hub sees no usable software view under " + ", ".join(map(str, roots)) + ": unless the "
            "spawner lists its view_choices, sessions cannot start until the site provides one "
            "(`cygnet views build default --root FOLDER`, then c.Cygnet.views_roots)"
        )
        return
    from cygnet.views.first_start import ensure_default_view

    ensure_default_view(roots, root)
    os.environ[contract.VIEWS_PATH.name] = os.pathsep.join(filter(None, [root, contract.VIEWS_PATH.get()]))


def site_value(section, key, initial):
    """What the site's file set for `key`, a copy; where it appended or updated the traitlets way
    (`c.JupyterHub.services.append(...)`), those changes applied to `initial`."""
    value = section.get(key, initial)
    if isinstance(value, LazyConfigValue):
        value = value.get_value(copy.deepcopy(initial))
    return copy.copy(value)


def scrub_hub_log():
    """Share tokens out of the hub's own log: its access lines carry them in a login's `next=`
    (/hub/login?next=%2Fuser%2F...%2Fcygnet%2Fopen%3Fshare%3DTOKEN), which JupyterHub's own
    scrubbing leaves alone. The config file runs in the hub's process, before it logs a request."""
    from cygnet.server.log_scrub import ScrubSecrets

    for name in ("tornado.access", "JupyterHub"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubSecrets) for f in logger.filters):
            logger.addFilter(ScrubSecrets())


def add_service(c, service, scopes=None):
    """A hub-managed service (unless the site defined one of that name), with a role of its own."""
    services = list(site_value(c.JupyterHub, "services", []))
    if any(s.get("name") == service["name"] for s in services):
        return False
    c.JupyterHub.services = [*services, service]
    if scopes:
        roles = list(site_value(c.JupyterHub, "load_roles", []))
        roles.append({"name": service["name"], "services": [service["name"]], "scopes": scopes})
        c.JupyterHub.load_roles = roles
    return True


def add_shares_service(c, hub, folder):
    """cygnet-shares (see shares_service): the hub's one share store. Every user may call it
    (the `user` role gains access to it) and so may each session's own token."""
    name = "cygnet-shares"
    port = hub.shares_port or int(contract.HUB_SHARES_PORT.get() or 0) or free_port()
    store = os.path.join(folder, "shares")
    service = {
        "name": name,
        "url": f"http://{hub.shares_host}:{port}",
        "command": [sys.executable, "-m", "cygnet.hub.shares_service"],
        "display": False,  # an API and public pages, not a page for the hub's Services menu
        "environment": {
            contract.SHARES_DB.name: os.path.join(store, "shares.sqlite"),
            contract.SHARES_URL.name: hub.shares_url or os.path.join(store, "snapshots"),
            contract.SHARE_MAX_BYTES.name: str(hub.share_max_bytes),
            contract.SHARES_BIND.name: listen_address(hub.shares_host),
            contract.SHARED_FOLDERS_ROOT.name: hub.shared_folders_root,
        },
    }
    if not add_service(c, service):
        return
    grant_user_access(c, name)
    base = c.JupyterHub.get("base_url", "/").rstrip("/") + "/"
    connect = hub.shares_connect_url or f"http://{hub.shares_host}:{port}{base}services/{name}/"
    c.Spawner.environment = {
        **site_value(c.Spawner, "environment", {}),
        contract.SHARES_SERVICE_URL.name: connect,
        contract.SHARED_FOLDERS_ROOT.name: hub.shared_folders_root,
    }


CONTAINER_SPAWNERS = {"CygnetContainerMixin", "DockerSpawner", "KubeSpawner"}


def singleuser_command():
    """Cygnet's single-user command beside the hub's Python (cygnet.hub.singleuser), or
    JupyterHub's own where an older install lacks it."""
    beside = os.path.dirname(sys.executable)
    ours = os.path.join(beside, "cygnet-singleuser")
    return ours if os.path.exists(ours) else os.path.join(beside, "jupyterhub-singleuser")


def runs_in_containers(spawner_class):
    """Whether sessions run in an image (Docker and Kubernetes spawners, Cygnet's or plain), where
    the hub's own paths and environment mean nothing."""
    from traitlets.utils.importstring import import_item

    if isinstance(spawner_class, str):
        try:
            spawner_class = import_item(spawner_class)
        except Exception:  # noqa: BLE001 - an entry-point name, or a spawner JupyterHub will name in its own error
            return False
    return isinstance(spawner_class, type) and any(k.__name__ in CONTAINER_SPAWNERS for k in spawner_class.__mro__)


def listen_address(host):
    """Where a service reached at `host` listens: that address itself, or every interface for a
    name (the hub's container or pod, reached by a name the service cannot bind)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "0.0.0.0"


def add_runs_service(c, hub, folder):
    """cygnet-runs (see runs_service): starts stopped sessions when their schedules are due.
    Sessions tell it when (their own token may call it); it may list and start users' servers."""
    name = "cygnet-runs"
    port = hub.runs_port or int(contract.HUB_RUNS_PORT.get() or 0) or free_port()
    service = {
        "name": name,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", "cygnet.hub.runs_service"],
        "display": False,
        "environment": {
            contract.RUNS_WAKE_DB.name: os.path.join(folder, "runs", "wakes.sqlite"),
            contract.RUNS_WAKE_LEAD.name: str(hub.runs_wake_lead),
        },
    }
    if not add_service(c, service, ["read:users", "read:servers", "start:servers"]):
        return
    grant_user_access(c, name)
    base = c.JupyterHub.get("base_url", "/").rstrip("/") + "/"
    connect = hub.runs_connect_url or f"http://127.0.0.1:{port}{base}services/{name}/"
    c.Spawner.environment = {**site_value(c.Spawner, "environment", {}), contract.RUNS_SERVICE_URL.name: connect}


def grant_user_access(c, name):
    """Every user, and each session's own token, may call the hub service `name`."""
    grant_users(c, [f"access:services!service={name}"])


def grant_users(c, wanted):
    """Every user's role, and each session's own token, get the scopes `wanted` (beside the site's)."""
    roles = list(site_value(c.JupyterHub, "load_roles", []))
    user_role = next((r for r in roles if r.get("name") == "user"), None)
    if user_role is None:
        user_role = {"name": "user", "scopes": ["self"]}
        roles.append(user_role)
    user_role["scopes"] = _with(user_role.setdefault("scopes", []), wanted)
    c.JupyterHub.load_roles = roles
    default = ["users:activity!user", "access:servers!server"]
    scopes = site_value(c.Spawner, "server_token_scopes", default)
    if isinstance(scopes, list):  # a site's callable stays as it is
        scopes = _with(scopes, wanted)
    c.Spawner.server_token_scopes = scopes


def _with(scopes, wanted):
    return [*scopes, *(s for s in wanted if s not in scopes)]


def add_culler(c, timeout, every):
    """jupyterhub-idle-culler as a hub service: idle sessions are stopped (their kernels, Spark
    sessions and managed Connect servers with them)."""
    name = "cygnet-idle-culler"
    command = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={timeout}", f"--cull-every={every}"]
    add_service(
        c,
        {"name": name, "command": command},
        ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    )
