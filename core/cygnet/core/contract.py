"""The server→kernel contract: every `CYGNET_*` environment variable, named once, with its
default and what it means.

The server (and the hub, its spawners and the batch runs) hands its settings to kernels,
terminals, Connect servers and jobs through these variables. Both sides read this module: the
writer sets `{contract.PORTS.name: value}`, the reader calls `contract.PORTS.get()`, and neither
restates a name or a default. Shell scripts and the documentation may spell a name out; a test
(tests/test_contract.py) checks that every name they use is declared here.

`python -m cygnet.core.contract` prints the table of docs/development.md (`make docs` remakes it
there with `--update docs/development.md`).

Standard library only, and Python 3.8 or newer: kernels read it, in their view's Python.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import NamedTuple


class Var(NamedTuple):
    """One environment variable: its name, the value it stands for when unset, what it means,
    and whether its value is a secret (kept out of logs and of batch jobs' environments).
    A named tuple, not a dataclass: every `cygnet` command loads this module, and dataclasses
    (with inspect) cost 9 ms of a `cygnet sync` that is timed against rclone."""

    name: str
    default: str
    meaning: str
    secret: bool = False

    def get(self, environ: Mapping[str, str] | None = None) -> str:
        """The value in `environ` (default: this process's environment); the default when the
        variable is unset or empty."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value if value else self.default


# --- the server → its kernels, terminals and managed Spark Connect servers ----------------------
VIEW = Var("CYGNET_VIEW", "", "the kernel's view, <release>/<platform> (also given to Spark executors)")
VIEW_PATH = Var("CYGNET_VIEW_PATH", "", "the folder of the kernel's view")
KERNEL_EXTENSIONS = Var(
    "CYGNET_KERNEL_EXTENSIONS",
    "",
    "IPython extensions the kernel loads at start, comma-separated (Cygnet.kernel_extensions)",
)
CATALOGUE = Var(
    "CYGNET_CATALOGUE", "", "the site's cluster catalogue as a JSON file for kernels; empty: each engine's own cluster"
)
PORTS = Var(
    "CYGNET_PORTS",
    "40000-40999",
    "the ports (LOW-HIGH) drivers and schedulers lease theirs from (Cygnet.spark_port_range)",
)
PORTS_DIR = Var("CYGNET_PORTS_DIR", "", "where kernels lease their ports; empty: compute/ports under Cygnet's data dir")
USAGE_RECORDS = Var(
    "CYGNET_USAGE_RECORDS",
    "",
    "where kernels record the cluster cores they use beyond the session's, for the hub's usage ledger; "
    "empty: compute/usage under Cygnet's data dir",
)
SPARK_CLUSTER = Var(
    "CYGNET_SPARK_CLUSTER",
    "local",
    "the Spark cluster `%spark connect` starts on when none is named: the hub's form sets it for the "
    "session, the server hands Cygnet.spark_default_cluster to kernels",
)
SPARK_SERVERS_DIR = Var(
    "CYGNET_SPARK_SERVERS_DIR", "", "where managed Spark Connect servers keep their state; empty: none can start"
)
SPARK_UI_BASE = Var("CYGNET_SPARK_UI_BASE", "", "the server's route to a driver's UI; empty outside a server")
SPARK_PRELOAD = Var(
    "CYGNET_SPARK_PRELOAD",
    "",
    "non-empty: import the Spark Connect client as the kernel starts (Cygnet.spark_preload_client)",
)
SPARK_TOKENS = Var("CYGNET_SPARK_TOKENS", "", "the folder of the delegation tokens the server fetched for clusters")
DASK_CLUSTER = Var(
    "CYGNET_DASK_CLUSTER",
    "dask-local",
    "the Dask cluster `%dask connect` starts when none is named (Cygnet.dask_default_cluster)",
)
DASK_RECORDS = Var(
    "CYGNET_DASK_RECORDS",
    "",
    "where kernels record their gateway clusters for the server's sweep; empty: under the data dir",
)
DASK_DASHBOARD_BASE = Var(
    "CYGNET_DASK_DASHBOARD_BASE", "", "the server's route to a local Dask cluster's dashboard; empty outside a server"
)
STORAGE_ENDPOINT = Var(
    "CYGNET_STORAGE_ENDPOINT", "", "the site's XRootD endpoint, root://host (Cygnet.storage_endpoint); empty: none"
)
STORAGE_HOME = Var(
    "CYGNET_STORAGE_HOME",
    "/eos/user/{u0}/{user}",
    "the user's home on the storage endpoint; {user} is the user name, {u0} its first letter",
)
SERVER_BASE_URL = Var(
    "CYGNET_SERVER_BASE_URL", "", "the Jupyter server's base URL, for the routes of UIs and dashboards"
)
SERVER_ID = Var("CYGNET_SERVER_ID", "", "this Cygnet server's own id: what it and its kernels start is recorded as its")
WORKSPACE = Var(
    "CYGNET_WORKSPACE", "", "the server's root folder: where Connect servers work and `cygnet run` looks; empty: here"
)
SCRATCH = Var("CYGNET_SCRATCH", "", "the session's (or batch run's) private 0700 scratch folder, removed at its end")
SESSION_KEY = Var(
    "CYGNET_SESSION_KEY", "", "the path of the session's key file (0600), which its UIs and dashboards require"
)
TERMINAL_PATH = Var(
    "CYGNET_TERMINAL_PATH", "", "the view's PATH, put in front again by the terminal's bashrc after the login files"
)

# --- a view's setup.sh (as `cygnet views build` and custom environments write it) → kernels ----
VIEW_HOME = Var("CYGNET_VIEW_HOME", "", "the folder of a view Cygnet built, exported by its setup.sh")
BASE_VIEW = Var("CYGNET_BASE_VIEW", "", "the view a custom environment is built on, exported by its setup.sh")

# --- the hub → each session's server ------------------------------------------------------------
VIEW_CHOSEN = Var("CYGNET_VIEW_CHOSEN", "", "the view chosen in the hub's form")
CORES = Var("CYGNET_CORES", "", "the cores chosen in the hub's form (also the session's cpu_limit)")
MEMORY = Var("CYGNET_MEMORY", "", "the memory chosen in the hub's form (also the session's mem_limit)")
GPU = Var("CYGNET_GPU", "", "the GPU choice made in the hub's form (its name; empty: none)")
USAGE_NOTE = Var("CYGNET_USAGE_NOTE", "", "the hub's soft-quota warning for the user's groups at spawn (empty: none)")
ENV_SCRIPT = Var(
    "CYGNET_ENV_SCRIPT", "", "the user's environment script from the hub's form, sourced by kernels (Cygnet.env_script)"
)
SHARES_SERVICE_URL = Var(
    "CYGNET_SHARES_SERVICE_URL", "", "the hub's share service (Cygnet.shares_service_url); empty: the embedded store"
)
RUNS_SERVICE_URL = Var(
    "CYGNET_RUNS_SERVICE_URL", "", "the hub's runs service (Cygnet.runs_service_url); empty: no wake-ups"
)
KERBEROS_TICKET = Var(
    "CYGNET_KERBEROS_TICKET",
    "",
    "the login's Kerberos ticket (base64), installed as the user's cache and removed before any kernel starts",
    secret=True,
)
DASK_GATEWAY_URL = Var("CYGNET_DASK_GATEWAY_URL", "", "the address of the hub's own dask-gateway, when it runs one")
DASK_GATEWAY_PROXY = Var("CYGNET_DASK_GATEWAY_PROXY", "", "the scheduler proxy (gateway://) of the hub's dask-gateway")

# --- the server → batch jobs (a site or user may set them for every Cygnet process too) ---------
DATA_DIR = Var(
    "CYGNET_DATA_DIR", "", "where Cygnet keeps its state; empty: $XDG_DATA_HOME/cygnet, else ~/.local/share/cygnet"
)
VIEWS_PATH = Var("CYGNET_VIEWS_PATH", "", "views roots (colon-separated) in front of the configured ones")
RUN_WARM_IDLE = Var(
    "CYGNET_RUN_WARM_IDLE",
    "0",
    "seconds a local run's warm job waits for the next run (c.LocalRunBackend.warm_idle); 0: no warm job",
)

# --- the user → the box's clients (`cygnet sync`, shares, fsspec URLs) --------------------------
BOX_USER = Var("CYGNET_BOX_USER", "", "the user name for a WebDAV box (never taken from the URL)")
BOX_PASSWORD = Var("CYGNET_BOX_PASSWORD", "", "the password for a WebDAV box (never taken from the URL)", secret=True)

# --- the site → the server's run notifications ----------------------------------------------------
SMTP_PASSWORD = Var(
    "CYGNET_SMTP_PASSWORD",
    "",
    "the mail server's password for run notifications (c.Cygnet.runs_smtp_user)",
    secret=True,
)

# --- `cygnet hub` → JupyterHub's configuration and the hub's share service -----------------------
HUB_SITE_CONFIG = Var("CYGNET_HUB_SITE_CONFIG", "", "the site's own JupyterHub config file (`cygnet hub -f FILE`)")
HUB_DIR = Var("CYGNET_HUB_DIR", "", "the hub's state folder; empty: hub under Cygnet's data dir")
HUB_API_PORT = Var("CYGNET_HUB_API_PORT", "", "the hub's API port, a free one `cygnet hub` picked")
HUB_PROXY_API_PORT = Var("CYGNET_HUB_PROXY_API_PORT", "", "the proxy's API port, a free one `cygnet hub` picked")
HUB_SHARES_PORT = Var("CYGNET_HUB_SHARES_PORT", "", "the share service's port, a free one `cygnet hub` picked")
HUB_RUNS_PORT = Var("CYGNET_HUB_RUNS_PORT", "", "the runs service's port, a free one `cygnet hub` picked")
RUNS_WAKE_DB = Var("CYGNET_RUNS_WAKE_DB", "", "the runs service's database of wake-ups (required by the service)")
RUNS_WAKE_LEAD = Var(
    "CYGNET_RUNS_WAKE_LEAD", "60", "seconds before a session's work the runs service starts it (runs_wake_lead)"
)
SHARES_DB = Var("CYGNET_SHARES_DB", "", "the share service's SQLite database (required by the service)")
SHARES_URL = Var("CYGNET_SHARES_URL", "", "where the share service keeps snapshots (required by the service)")
SHARE_MAX_BYTES = Var(
    "CYGNET_SHARE_MAX_BYTES", str(1 << 30), "the largest file or folder (bytes) the share service shares"
)
SHARES_BIND = Var("CYGNET_SHARES_BIND", "127.0.0.1", "the address the share service listens on")
SHARED_FOLDERS_ROOT = Var(
    "CYGNET_SHARED_FOLDERS_ROOT",
    "",
    "the hub's space for live shared folders (CygnetHub.shared_folders_root); sessions also read it: "
    "a path leading there stays in bounds; empty: no live shared folders",
)

# --- build and deployment only: the Docker images and their compose file -------------------------
SESSION_IMAGE = Var("CYGNET_SESSION_IMAGE", "cygnet", "the session image docker/hub_config.py spawns")
NETWORK = Var("CYGNET_NETWORK", "cygnet", "the Docker network of the hub and its sessions")
VIEW_CHOICES = Var("CYGNET_VIEW_CHOICES", "", "the views users may choose in docker/compose.hub.yaml, comma-separated")
IMAGE_WORK = Var("CYGNET_IMAGE_WORK", "/var/tmp/cygnet-image", "docker/test-image.sh's work folder")

# --- tests and benchmarks only ---------------------------------------------------------------------
TEST_OUTPUT = Var("CYGNET_TEST_OUTPUT", "test-output", "where tests and benchmarks save screenshots and results")
TEST_MARKER = Var("CYGNET_TEST_MARKER", "", "set by test views' setup.sh, to see a view's environment arrive")
USER_SCRIPT = Var("CYGNET_USER_SCRIPT", "", "set by tests' user environment scripts")
TEST_TAG = Var("CYGNET_TEST_TAG", "", "a value tests put in Spark configuration templates")
TAG = Var("CYGNET_TAG", "", "a Spark executor variable tests set from CYGNET_TEST_TAG")

# Who writes them → who reads them, in the order of the documentation's table.
GROUPS: tuple[tuple[str, tuple[Var, ...]], ...] = (
    (
        "server → kernel",
        (
            VIEW,
            VIEW_PATH,
            KERNEL_EXTENSIONS,
            CATALOGUE,
            PORTS,
            PORTS_DIR,
            USAGE_RECORDS,
            SPARK_CLUSTER,
            SPARK_SERVERS_DIR,
            SPARK_UI_BASE,
            SPARK_PRELOAD,
            SPARK_TOKENS,
            DASK_CLUSTER,
            DASK_RECORDS,
            DASK_DASHBOARD_BASE,
            STORAGE_ENDPOINT,
            STORAGE_HOME,
            SERVER_BASE_URL,
            SERVER_ID,
            WORKSPACE,
            SCRATCH,
            SESSION_KEY,
            TERMINAL_PATH,
        ),
    ),
    ("view → kernel", (VIEW_HOME, BASE_VIEW)),
    (
        "hub → session",
        (
            VIEW_CHOSEN,
            CORES,
            MEMORY,
            GPU,
            USAGE_NOTE,
            ENV_SCRIPT,
            SHARES_SERVICE_URL,
            RUNS_SERVICE_URL,
            KERBEROS_TICKET,
            DASK_GATEWAY_URL,
            DASK_GATEWAY_PROXY,
        ),
    ),
    ("server → batch job", (DATA_DIR, VIEWS_PATH, RUN_WARM_IDLE)),
    ("user → box client", (BOX_USER, BOX_PASSWORD)),
    ("site → server", (SMTP_PASSWORD,)),
    (
        "hub → hub services",
        (
            HUB_SITE_CONFIG,
            HUB_DIR,
            HUB_API_PORT,
            HUB_PROXY_API_PORT,
            HUB_SHARES_PORT,
            HUB_RUNS_PORT,
            RUNS_WAKE_DB,
            RUNS_WAKE_LEAD,
            SHARES_DB,
            SHARES_URL,
            SHARE_MAX_BYTES,
            SHARES_BIND,
            SHARED_FOLDERS_ROOT,
        ),
    ),
    ("build only", (SESSION_IMAGE, NETWORK, VIEW_CHOICES, IMAGE_WORK)),
    ("tests only", (TEST_OUTPUT, TEST_MARKER, USER_SCRIPT, TEST_TAG, TAG)),
)

ALL: tuple[Var, ...] = tuple(var for _, group in GROUPS for var in group)
BY_NAME: dict[str, Var] = {var.name: var for var in ALL}
# The names whose values are secrets: batch jobs never get them (cygnet.runs.service).
SECRETS: frozenset[str] = frozenset(var.name for var in ALL if var.secret)

NAME = re.compile(r"(?<![A-Za-z0-9_])CYGNET_[A-Z0-9_]*[A-Z0-9]")
HEADING = "## The server→kernel contract"
BEGIN = "<!-- Made by `python -m cygnet.core.contract` (`make docs`): edit cygnet/core/contract.py, not this table. -->"
END = "<!-- End of the table made from cygnet/core/contract.py. -->"
INTRO = (
    "The server, the hub and batch runs hand their settings to kernels, terminals and jobs through\n"
    "these environment variables. Each is declared once, with its default, in `cygnet.core.contract`,\n"
    "which both sides read (`contract.PORTS.get()`); an empty value counts as unset.\n"
)


def markdown() -> str:
    """The variables as a Markdown table, grouped by who writes them for whom."""
    rows = ["| Variable | From → to | Default | Meaning |", "| --- | --- | --- | --- |"]
    for group, members in GROUPS:
        for var in members:
            default = f"`{var.default}`" if var.default else "—"
            meaning = ("**Secret.** " if var.secret else "") + var.meaning
            meaning = meaning.replace("|", "\\|").replace("<", "&lt;")
            rows.append(f"| `{var.name}` | {group} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


def section_of(page: str) -> str | None:
    """The part of `page` between BEGIN and END (None without them)."""
    start, end = page.find(BEGIN), page.find(END)
    if start < 0 or end < start:
        return None
    return page[start + len(BEGIN) : end].strip("\n") + "\n"


def updated(page: str) -> str:
    """`page` with its table remade, or with the section added at its end."""
    block = f"{BEGIN}\n\n{markdown()}\n{END}"
    start, end = page.find(BEGIN), page.find(END)
    if start >= 0 and end > start:
        return page[:start] + block + page[end + len(END) :]
    return page.rstrip("\n") + f"\n\n{HEADING}\n\n{INTRO}\n{block}\n"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stdout.write(markdown())
        return 0
    if len(argv) == 2 and argv[0] == "--update":
        with open(argv[1], encoding="utf-8") as f:
            page = f.read()
        new = updated(page)
        if new != page:
            with open(argv[1], "w", encoding="utf-8") as f:
                f.write(new)
        return 0
    sys.stderr.write("usage: python -m cygnet.core.contract [--update FILE.md]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
