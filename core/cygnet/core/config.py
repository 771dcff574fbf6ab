"""Site configuration: the traitlets behind `c.Cygnet.*`.

The server extension reads these from the Jupyter server's configuration; the `cygnet` command
reads the same files (jupyter_server_config.py/.json and jupyter_server_config.d/ on Jupyter's
config path) plus `--Cygnet.x=y` flags. Cores never see this class: they take plain values.
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from traitlets import Bool, Float, Integer, List, Unicode, default, observe
from traitlets.config import Configurable

from . import contract
from .datadir import default_data_dir

CVMFS_VIEWS = "/cvmfs/sft.cern.ch/lcg/views"


class Cygnet(Configurable):
    """Site settings of a Cygnet service."""

    data_dir = Unicode(
        help="Where Cygnet keeps its state: caches, locally built views, the kernel-side package links. "
        "Default: $CYGNET_DATA_DIR, else $XDG_DATA_HOME/cygnet, else ~/.local/share/cygnet.",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return default_data_dir()

    # --- isolation between users ---------------------------------------------------------
    scratch_dir = Unicode(
        "",
        help="A local scratch disk for sessions' temporary files (shuffle, spill, $TMPDIR): each account "
        "gets a 0700 folder of its own there. Empty: a folder in the user's data dir. Either way the "
        "files are the account's alone, and a session's folder is removed when it ends.",
    ).tag(config=True)

    generic_port_proxy = Bool(
        help="Serve jupyter-server-proxy's generic /proxy/<port>/ and /proxy/<host>:<port>/ routes, which "
        "reach any port of the machine from the browser. Default: off under JupyterHub (other users' "
        "sessions listen on the same machine), on for a single user. Named server-proxy servers are "
        "not affected.",
    ).tag(config=True)

    @default("generic_port_proxy")
    def _default_generic_port_proxy(self) -> bool:
        return not os.environ.get("JUPYTERHUB_API_TOKEN")

    # --- software views ---------------------------------------------------------------
    views_roots = List(
        Unicode(),
        help="Folders holding views laid out as <root>/<release>/<platform>/setup.sh. "
        f"Default: {CVMFS_VIEWS} when it exists, then local_views_root. "
        "$CYGNET_VIEWS_PATH (colon-separated) adds roots in front of these.",
    ).tag(config=True)

    @default("views_roots")
    def _default_views_roots(self) -> list[str]:
        roots = [CVMFS_VIEWS] if os.path.isdir(CVMFS_VIEWS) else []
        return roots + [self.local_views_root]

    local_views_root = Unicode(
        help="Where `cygnet views build` creates views. Default: <data_dir>/views.",
    ).tag(config=True)

    @default("local_views_root")
    def _default_local_views_root(self) -> str:
        return os.path.join(self.data_dir, "views")

    custom_envs_root = Unicode(
        help="Where custom environments are built, by `cygnet views build NAME --from REPO` and by links "
        "with env=1 (those are named env-<hash> and reused by every user of this root). It is a views "
        "root too. Default: local_views_root. A site may point it at a shared folder.",
    ).tag(config=True)

    @default("custom_envs_root")
    def _default_custom_envs_root(self) -> str:
        return self.local_views_root

    env_build_timeout = Float(
        900.0,
        help="Seconds a custom environment's build (uv installing a repository's requirements) may take.",
    ).tag(config=True)

    env_build_max_bytes = Integer(
        4 << 30,
        help="The largest a custom environment may grow, in bytes; a build past it stops and is not kept.",
    ).tag(config=True)

    env_build_allowed_hosts = List(
        Unicode(),
        [],
        help="Hosts a repository's requirements may name as a package source (--index-url, "
        "--extra-index-url, --find-links, or a direct URL such as pkg @ https://host/...). Empty: "
        "only the package index uv is configured with. Local paths are never allowed.",
    ).tag(config=True)

    storage_http_max_bytes = Integer(
        5 << 30,
        help="The largest file, in bytes, a PUT to /cygnet/api/storage/ may upload to EOS (a larger one is a 413).",
    ).tag(config=True)

    runs_backend = Unicode(
        "local",
        help="Where batch runs (`cygnet run`, POST /cygnet/api/runs) go when the request names no backend: "
        "local (a process on the session's machine), slurm, htcondor, kubernetes, or a site's own backend "
        "(entry point group cygnet.run_backends). A name no installed backend provides is refused, "
        "naming the installed ones. Each backend has options of its own (c.SlurmRunBackend.partition, ...).",
    ).tag(config=True)

    # Deprecated: each backend has typed options of its own (cygnet.runs.settings reads these as those).
    runs_slurm_options = List(
        Unicode(),
        [],
        help="Deprecated: use SlurmRunBackend.extra_directives (and its partition, account, qos and "
        "time_limit), which this is still read as, with a warning.",
    ).tag(config=True)

    runs_htcondor_options = List(
        Unicode(),
        [],
        help="Deprecated: use HTCondorRunBackend.extra_submit_lines (and its requirements), which this "
        "is still read as, with a warning.",
    ).tag(config=True)

    runs_kubernetes_image = Unicode(
        "cygnet/session:latest",
        help="Deprecated: use KubernetesRunBackend.image, which this is still read as, with a warning.",
    ).tag(config=True)

    runs_kubernetes_namespace = Unicode(
        "default",
        help="Deprecated: use KubernetesRunBackend.namespace, which this is still read as, with a warning.",
    ).tag(config=True)

    runs_min_interval = Float(
        300.0,
        help="The shortest time, in seconds, between two runs of one schedule (cron or interval) this site "
        "allows; a schedule that would fire more often is refused, naming its cron or every field.",
    ).tag(config=True)

    runs_max_schedules = Integer(
        20,
        help="How many schedules one user may have; one more is refused until they remove one.",
    ).tag(config=True)

    runs_check_every = Float(
        5.0,
        help="How often, at least, in seconds, the server looks for due schedules (it also wakes at each "
        "schedule's next slot), for runs that ended and for notifications to send; 0 turns schedules and "
        "notifications off in this server.",
    ).tag(config=True)

    runs_service_url = Unicode(
        help="The hub's runs service (cygnet-runs), told after each check when this session next has "
        "work (a schedule's slot, a notification to retry), so that it starts the session again then if "
        "it was stopped. Set by `cygnet hub` for every session it spawns ($CYGNET_RUNS_SERVICE_URL); "
        "empty: schedules fire only while the server runs (`cygnet up`).",
    ).tag(config=True)

    @default("runs_service_url")
    def _default_runs_service_url(self) -> str:
        return contract.RUNS_SERVICE_URL.get()

    runs_smtp_host = Unicode(
        "",
        help="The mail server (SMTP) that sends run notifications by email; empty: email notifications are "
        "off and asking for one is refused. Its password, if it needs one, comes from the environment "
        "variable CYGNET_SMTP_PASSWORD, never from a configuration file.",
    ).tag(config=True)

    runs_smtp_port = Integer(25, help="The mail server's port.").tag(config=True)

    runs_smtp_sender = Unicode(
        "",
        help="The From address of run notifications. Default: cygnet@<runs_smtp_host>.",
    ).tag(config=True)

    runs_smtp_user = Unicode(
        "",
        help="The user the mail server is logged in as (with CYGNET_SMTP_PASSWORD); empty: no login.",
    ).tag(config=True)

    runs_smtp_starttls = Bool(
        False,
        help="Whether to switch the mail server connection to TLS (STARTTLS) before sending.",
    ).tag(config=True)

    session_end_warning = Float(
        600.0,
        help="When the session runs as a batch job with a time limit (CygnetSlurmSpawner), how many seconds "
        "before the end JupyterLab warns that the session will stop (save your work); 0: no warning.",
    ).tag(config=True)

    session_recheck_interval = Float(
        10.0,
        help="Under a hub, how often, in seconds, the session asks the hub again about every open "
        "websocket (kernel, document, terminal) of a colleague it was shared with, and closes those whose "
        "share ended outside Cygnet (the hub's own API or page). A revoke through Cygnet closes them at "
        "once; 0 turns the rechecks off.",
    ).tag(config=True)

    shared_folders_interval = Float(
        15.0,
        help="Under a hub with live shared folders, how often, in seconds, the session asks the share "
        "service which folders are shared with its user: each appears in the workspace's shared/<owner>/ "
        "within this time, and its link goes once access ends (the access itself ends at once). 0: only "
        "when the file browser's Shared panel or `cygnet share --folders` asks.",
    ).tag(config=True)

    view_setup_timeout = Float(
        300.0,
        help="Seconds a view's setup.sh may take to source (a cold CVMFS can be slow) "
        "before the view is reported unusable.",
    ).tag(config=True)

    default_view = Unicode(
        "",
        help="The view (<release>/<platform>) whose kernel is the default for new notebooks "
        "and stands in for notebooks asking for 'python3'. Default: the newest usable view, "
        "preferring one named 'default'.",
    ).tag(config=True)

    build_default_view = Bool(
        True,
        help="Let `cygnet up` (and `cygnet hub`, when sessions run under its account) build a view "
        "named 'default' from the service's Python when no usable view exists, so kernels work with "
        "no configuration.",
    ).tag(config=True)

    # --- kernels ----------------------------------------------------------------------
    keep_native_kernels = Bool(
        False,
        help="Also offer kernel specs found on Jupyter's path (such as the server's own "
        "'python3'). Off by default: those run outside any view, with the service's packages.",
    ).tag(config=True)

    env_script = Unicode(
        help="A script of the user's, relative to the workspace, that every kernel and terminal sources "
        "after its view's setup.sh (SWAN's user environment script): exported variables reach them. Set "
        "from the hub's form ($CYGNET_ENV_SCRIPT). Its result is cached with the view's until the script "
        "changes. A script that is missing or fails stops the kernel or terminal with its last lines.",
    ).tag(config=True)

    @default("env_script")
    def _default_env_script(self) -> str:
        return contract.ENV_SCRIPT.get()

    kernel_env_passthrough = List(
        Unicode(),
        [
            "HOME",
            "USER",
            "LOGNAME",
            "LANG",
            "LC_*",
            "TZ",
            "TERM",
            "SHELL",
            "TMPDIR",
            # The session's private scratch (cygnet.core.scratch): Spark's and Dask's temporary files.
            "SPARK_LOCAL_DIRS",
            "SPARK_SUBMIT_OPTS",
            "DASK_TEMPORARY_DIRECTORY",
            "JPY_*",
            "KRB5CCNAME",
            "CYGNET_*",
            "JAVA_HOME",
            "SPARK_LOCAL_IP",
            # The session's size, as JupyterHub's spawners set it: dask-local sizes its workers by it.
            "CPU_LIMIT",
            "MEM_LIMIT",
            "JUPYTERHUB_USER",
            # The batch job the session runs in (CygnetSlurmSpawner): srun from a kernel uses its allocation.
            "SLURM_*",
            # The GPUs the session was given (Slurm, the NVIDIA container runtime).
            "CUDA_VISIBLE_DEVICES",
            "NVIDIA_VISIBLE_DEVICES",
            "GPU_DEVICE_ORDINAL",
        ],
        help="Names (shell-style patterns) of the server's environment variables a kernel "
        "inherits; everything else a kernel sees comes from its view.",
    ).tag(config=True)

    kernel_pool_size = Integer(
        1,
        help="Kernels kept started, idle and unused for each recently used view's Python, so that opening "
        "a notebook on it, or restarting its kernel, finds a kernel ready. They are the user's own (started "
        "in the workspace with the view, the environment script and the server's environment; never shared "
        "between users) and refilled in the background. 0 turns the pool off.",
    ).tag(config=True)

    kernel_pool_views = Integer(
        1,
        help="How many of the views used last keep pooled kernels (remembered across sessions, so a new "
        "session starts one for the view used last). The pool holds at most kernel_pool_size x "
        "kernel_pool_views kernels.",
    ).tag(config=True)

    kernel_pool_idle = Float(
        1800.0,
        help="Seconds after the last kernel start of a view when the pool stops that view's kernels; it "
        "never starts kernels for a view not used for this long (a new session seeds only views used within "
        "it), so an idle session goes back to the memory of one without a pool long before the hub's culler "
        "stops it. 0: no limit.",
    ).tag(config=True)

    kernel_packages = List(
        Unicode(),
        ["cygnet.kernels", "cygnet.core", "cygnet.compute", "cygnet.spark", "cygnet.storage", "cygnet.dask"],
        help="Cygnet sub-packages put on every kernel's path (kernel-side code), with the packages "
        "each of them needs (cygnet.dask brings cygnet.compute). Nothing else of the service is "
        "importable in a kernel.",
    ).tag(config=True)

    kernel_extensions = List(
        Unicode(),
        [],
        help="IPython extensions every Cygnet kernel loads at start, after Cygnet's own. "
        "A failing one is reported in the kernel's log and skipped.",
    ).tag(config=True)

    # --- opening repositories and notebooks by link -----------------------------------
    open_projects_dir = Unicode(
        "",
        help="Folder of the workspace (relative to its root) where links clone repositories "
        "and download notebooks when they name no target. Default: the workspace root.",
    ).tag(config=True)

    open_allowed_schemes = List(
        Unicode(),
        ["https", "http", "git"],
        help="URL schemes a link may clone from; add 'ssh' or 'file' to enable those. Downloads "
        "(url=) are always http or https.",
    ).tag(config=True)

    open_allowed_hosts = List(
        Unicode(),
        [],
        help="Hosts ('host' or 'host:port') links may clone or download from. Empty: any public host.",
    ).tag(config=True)

    open_internal_hosts = List(
        Unicode(),
        [],
        help="Hosts ('host', 'host:port') or networks ('10.1.0.0/16', '127.0.0.1', '127.0.0.1:9418') links "
        "may reach although they resolve to loopback, private or link-local addresses (a site's own "
        "GitLab). An entry with a port allows only that port, by name or by address in any spelling; "
        "one without a port allows every port of the host, the Jupyter server's own included. Empty: "
        "links reach public addresses only, checked after resolving and after each redirect.",
    ).tag(config=True)

    open_timeout = Float(
        300.0,
        help="Seconds a clone, update or download from a link may take before it is stopped.",
    ).tag(config=True)

    open_max_bytes = Integer(
        1 << 30,
        help="Largest clone (working tree and history), download or unpacked archive, in bytes.",
    ).tag(config=True)

    open_clone_depth = Integer(
        1,
        help="History depth of clones made by links (0: full history).",
    ).tag(config=True)

    long_work_workers = Integer(
        8,
        help="Threads for long work started through the REST API (opens by link, sync jobs); "
        "quick requests (listings, status) have their own and never wait behind these.",
    ).tag(config=True)

    long_work_per_user = Integer(
        4,
        help="Opens and sync jobs one user may have under way at once; one more is answered 429 'too many at once'.",
    ).tag(config=True)

    link_base_url = Unicode(
        "",
        help="The service's public address for shareable links, e.g. "
        "'https://hub.example.org/hub/user-redirect/'. Default: the address of the request.",
    ).tag(config=True)

    # --- the box -----------------------------------------------------------------------
    box_url = Unicode(
        help="The box `cygnet sync` mirrors to when no destination is given: a folder, "
        "webdav(s)://host/path (credentials in $CYGNET_BOX_USER and $CYGNET_BOX_PASSWORD) or "
        "root://host//path (EOS over XRootD, with XRootD's own credentials). "
        "Default: <data_dir>/box.",
    ).tag(config=True)

    @default("box_url")
    def _default_box_url(self) -> str:
        return os.path.join(self.data_dir, "box")

    box_versions = Integer(
        10,
        help="Previous versions of each file a sync keeps in the box when it replaces or deletes the "
        "box's copy (in .cygnet-versions/ of the synced box folder; the History dialog lists them). "
        "0 keeps none: a sync then overwrites and deletes, as rclone sync does.",
    ).tag(config=True)

    # --- compute: Spark, Dask, and any engine that registers kinds of cluster ------------
    clusters = Unicode(
        help="A JSON or YAML file (it may live on CVMFS) with the site's compute clusters (Spark's "
        "and Dask's in one list, each with its kind), Spark configuration bundles and extra known "
        "options; see the user guide's Spark and Dask sections. Default: each engine's own cluster "
        "on this machine ('local' for Spark, 'dask-local' for Dask).",
    ).tag(config=True)

    spark_clusters = Unicode(
        "",
        help="Deprecated: the old name of `clusters`, still read when `clusters` is not set.",
    ).tag(config=True)

    @default("clusters")
    def _default_clusters(self) -> str:
        return self.spark_clusters

    @observe("spark_clusters")
    def _warn_spark_clusters(self, change: dict) -> None:
        if change["new"]:
            logging.getLogger("cygnet").warning("cygnet: Cygnet.spark_clusters is deprecated: use Cygnet.clusters")

    # --- Spark ---------------------------------------------------------------------------

    spark_port_range = Unicode(
        contract.PORTS.default,
        help="Ports (LOW-HIGH) kernels take their Spark driver, block manager and UI ports from; "
        "open them in the firewall for YARN and standalone clusters elsewhere.",
    ).tag(config=True)

    spark_default_cluster = Unicode(
        help="The cluster `%spark connect` and the compute panel start on when a notebook has no saved "
        "choice (the session's choice in the hub's form, $CYGNET_SPARK_CLUSTER). Default: local.",
    ).tag(config=True)

    @default("spark_default_cluster")
    def _default_spark_default_cluster(self) -> str:
        return contract.SPARK_CLUSTER.get()

    dask_default_cluster = Unicode(
        help="The Dask cluster `%dask connect` and `cygnet.dask.connect()` start when none is named "
        "($CYGNET_DASK_CLUSTER). Default: dask-local, a LocalCluster beside the kernel. Dask clusters "
        "are listed in the catalogue (`clusters`) beside Spark's, with kind dask-local or dask-gateway.",
    ).tag(config=True)

    @default("dask_default_cluster")
    def _default_dask_default_cluster(self) -> str:
        return contract.DASK_CLUSTER.get()

    usage_report_interval = Float(
        300.0,
        help="Under a hub, seconds between the session's reports to the hub's usage ledger of what it runs "
        "beyond its own cores (Spark executors on a cluster, batch runs on a scheduler). 0: no reports.",
    ).tag(config=True)
    dask_sweep_interval = Float(
        10.0,
        help="Seconds between the server's checks for gateway Dask clusters whose kernel has died, "
        "restarted or been culled; each such cluster is stopped through its gateway.",
    ).tag(config=True)

    spark_preload_client = Bool(
        False,
        help="Import the Spark Connect client in the background as each kernel starts: the first "
        "connect to a Connect cluster is then about 0.8 s faster, and every kernel holds about "
        "120 MB more, Spark or not.",
    ).tag(config=True)

    spark_server_idle_timeout = Integer(
        3600,
        help="Seconds a managed Spark Connect server may run with no kernel connected before it stops "
        "itself (0: until the session ends).",
    ).tag(config=True)

    spark_server_check_every = Integer(
        30,
        help="Seconds between the server's checks of managed Spark Connect servers: the sessions of kernels "
        "that died, restarted or were shut down are released, and idle servers stopped.",
    ).tag(config=True)

    # --- EOS-style storage over XRootD ---------------------------------------------------
    storage_endpoint = Unicode(
        "",
        help="The site's XRootD endpoint, e.g. root://eosuser.example.org: relative paths given to "
        "cygnet.storage in kernels and to `cygnet storage` resolve to the user's home there.",
    ).tag(config=True)

    storage_home = Unicode(
        contract.STORAGE_HOME.default,
        help="The user's home path on storage_endpoint; {user} is the user name, {u0} its first letter.",
    ).tag(config=True)

    # --- Kerberos ----------------------------------------------------------------------
    kerberos_renew_every = Integer(
        300, help="Seconds between the server's checks of the user's Kerberos ticket (0: never renew)."
    ).tag(config=True)

    kerberos_renew_before = Integer(
        3600,
        help="A ticket with less than this many seconds left (and still renewable) is renewed at the next check.",
    ).tag(config=True)

    # --- working together ------------------------------------------------------------
    collaboration = Bool(
        True,
        help="Real-time co-editing (jupyter-collaboration): everyone with the session open sees each "
        "other's edits, cursors and names, and the outputs of cells any of them runs. Its document store "
        "and file ids are kept in <data_dir>/collaboration, never in the workspace. False: each browser "
        "edits its own copy, as plain JupyterLab does.",
    ).tag(config=True)

    # --- share links -----------------------------------------------------------------
    shares_db = Unicode(
        help="The SQLite database of share links. Default: <data_dir>/shares.sqlite. Point every "
        "user's at one shared database to let users share with each other by name.",
    ).tag(config=True)

    @default("shares_db")
    def _default_shares_db(self) -> str:
        return os.path.join(self.data_dir, "shares.sqlite")

    shares_url = Unicode(
        help="Where the snapshots of shared files are kept: a folder, a webdav(s):// or a root:// URL, as for "
        "box_url. Default: the folder .cygnet-shares inside box_url.",
    ).tag(config=True)

    @default("shares_url")
    def _default_shares_url(self) -> str:
        return self.box_url.rstrip("/") + "/.cygnet-shares"

    shares_service_url = Unicode(
        help="The hub's share service (cygnet-shares) to keep shares in, so links outlive sessions and "
        "users share with each other by name. Set by `cygnet hub` for every session it spawns "
        "($CYGNET_SHARES_SERVICE_URL); empty: the embedded store (shares_db, shares_url).",
    ).tag(config=True)

    @default("shares_service_url")
    def _default_shares_service_url(self) -> str:
        return contract.SHARES_SERVICE_URL.get()

    share_max_bytes = Integer(
        1 << 30,
        help="Largest file or folder (in bytes) that can be shared; a share copies it into the box.",
    ).tag(config=True)

    # --- derived paths ----------------------------------------------------------------
    def effective_views_roots(self) -> list[Path]:
        """$CYGNET_VIEWS_PATH's roots, the configured ones, then the custom environments' root, once each."""
        extra = [p for p in contract.VIEWS_PATH.get().split(":") if p]
        seen, roots = set(), []
        for root in extra + list(self.views_roots) + [self.custom_envs_root]:
            key = os.path.abspath(os.path.expanduser(root))
            if key not in seen:
                seen.add(key)
                roots.append(Path(key))
        return roots

    @property
    def cache_dir(self) -> Path:
        return Path(self.data_dir) / "cache"


def load_config(argv: Sequence[str] = ()) -> "Cygnet":
    """A Cygnet configured as the Jupyter server would be: config files, then `--Cygnet.*` flags."""
    from jupyter_core.application import JupyterApp

    class _ServerConfig(JupyterApp):
        # Reading jupyter_server_config.* keeps one configuration for the server and the CLI.
        name = "jupyter-server"
        config_file_name = "jupyter_server_config"
        classes = [Cygnet]

        def _log_level_default(self) -> int:
            return logging.ERROR

    app = _ServerConfig()
    app.parse_command_line(list(argv))
    app.load_config_file()
    app.update_config(app.cli_config)  # flags win over files
    return Cygnet(config=app.config)
