"""The embedded default of `cygnet hub`: state under <data_dir>/hub/, Cygnet's spawner and form,
JupyterHub's shared-password authenticator, configurable-http-proxy, loopback ports chosen by
`cygnet hub` (so hubs never collide on one machine)."""

import os
import secrets
import shutil
import sys

from traitlets import Integer
from traitlets.config import Configurable

from cygnet.core.atomic import atomic_write

PROXY_LOCATIONS = ("hub/proxy/node_modules/.bin/configurable-http-proxy",)


def hub_dir():
    from cygnet.core.datadir import default_data_dir

    return os.environ.get("CYGNET_HUB_DIR") or os.path.join(default_data_dir(), "hub")


def shared_password(folder):
    """The password users log in with (any user name): made once, kept in a 0600 file, never
    printed or logged."""
    path = os.path.join(folder, "password")
    if not os.path.exists(path):
        atomic_write(path, secrets.token_urlsafe(18) + "\n", mode=0o600)
    with open(path) as f:
        return f.read().strip()


def proxy_command():
    """configurable-http-proxy: beside this Python (a venv's bin), on PATH, or the repository's
    hub/proxy install that `make` does."""
    here = os.path.join(os.path.dirname(sys.executable), "configurable-http-proxy")
    if os.path.exists(here):
        return here
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    for rel in PROXY_LOCATIONS:
        if os.path.exists(os.path.join(root, rel)):
            return os.path.join(root, rel)
    return "configurable-http-proxy"  # JupyterHub then names what is missing


class CygnetHub(Configurable):
    """Settings of `cygnet hub` beyond JupyterHub's own (c.CygnetHub.* in the site's file)."""

    cull_idle_timeout = Integer(
        3600, help="Seconds a session may stay idle before jupyterhub-idle-culler stops it (0: never)."
    ).tag(config=True)
    cull_every = Integer(60, help="Seconds between the culler's checks.").tag(config=True)


def configure(c):
    """Cygnet's defaults, for what the site's configuration left unset."""
    folder = hub_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    hub = CygnetHub(config=c)

    def default(section, key, value):
        if key not in c[section]:
            c[section][key] = value

    default("JupyterHub", "db_url", "sqlite:///" + os.path.join(folder, "jupyterhub.sqlite"))
    default("JupyterHub", "cookie_secret_file", os.path.join(folder, "cookie_secret"))
    default("JupyterHub", "pid_file", os.path.join(folder, "jupyterhub.pid"))
    if os.environ.get("CYGNET_HUB_API_PORT"):
        default("JupyterHub", "hub_ip", "127.0.0.1")
        default("JupyterHub", "hub_port", int(os.environ["CYGNET_HUB_API_PORT"]))
    default("ConfigurableHTTPProxy", "command", [proxy_command()])
    default("ConfigurableHTTPProxy", "pid_file", os.path.join(folder, "proxy.pid"))
    if os.environ.get("CYGNET_HUB_PROXY_API_PORT"):
        default("ConfigurableHTTPProxy", "api_url", f"http://127.0.0.1:{os.environ['CYGNET_HUB_PROXY_API_PORT']}")
    # Shared password: works on a fresh machine with no accounts, and every user still has a
    # name of their own. Sites set any authenticator (OAuth/OIDC, LDAP, Kerberos) in their file.
    if "authenticator_class" not in c.JupyterHub:
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = shared_password(folder)
        default("Authenticator", "allow_all", True)
    default("JupyterHub", "spawner_class", "cygnet.hub.spawner.CygnetLocalSpawner")
    default("CygnetLocalSpawner", "home_dir_template", os.path.join(folder, "users", "{username}"))
    default("Spawner", "cmd", [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")])
    default("Spawner", "default_url", "/lab")
    default("Spawner", "args", ["--allow-root"] if os.geteuid() == 0 else [])
    default(
        "Spawner",
        "env_keep",
        [
            "PATH",
            "LANG",
            "LC_ALL",
            "VIRTUAL_ENV",
            "CYGNET_VIEWS_PATH",
            "JAVA_HOME",
            "SPARK_LOCAL_IP",
            "JUPYTERHUB_SINGLEUSER_APP",
        ],
    )
    default("Spawner", "http_timeout", 120)
    default("Spawner", "start_timeout", 120)
    if hub.cull_idle_timeout > 0:
        add_culler(c, hub.cull_idle_timeout, hub.cull_every)


def add_culler(c, timeout, every):
    """jupyterhub-idle-culler as a hub service: idle sessions are stopped (their kernels, Spark
    sessions and managed Connect servers with them)."""
    name = "cygnet-idle-culler"
    services = list(c.JupyterHub.get("services", []))
    if any(s.get("name") == name for s in services):
        return
    services.append(
        {
            "name": name,
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={timeout}",
                f"--cull-every={every}",
            ],
        }
    )
    c.JupyterHub.services = services
    roles = list(c.JupyterHub.get("load_roles", []))
    roles.append(
        {
            "name": name,
            "services": [name],
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        }
    )
    c.JupyterHub.load_roles = roles
