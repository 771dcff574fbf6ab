"""The Jupyter server extension as an ExtensionApp: `CygnetApp` links Cygnet's kernel spec
manager (and the EOS contents manager) into the server, makes the shared state once, and
routes Cygnet's handlers, which reach it as `self.extensionapp`.

Site settings stay `c.Cygnet.*`: the app owns a `Cygnet` configurable (`self.cygnet`) made from
the server's configuration, which the `cygnet` command reads too.
"""

import atexit
import base64
import dataclasses
import os
import secrets
import threading
from functools import partial

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from tornado.ioloop import IOLoop

from cygnet.compute.catalogue import load_catalogue
from cygnet.core import contract, kerberos, scratch, session_key
from cygnet.core.config import Cygnet
from cygnet.core.errors import CygnetError
from cygnet.runs import settings as run_settings
from cygnet.runs.schedule_service import Schedules
from cygnet.runs.service import Runs
from cygnet.shares.render import RenderCache
from cygnet.shares.store import open_share_store
from cygnet.spark.kernel_env import servers_dir
from cygnet.spark.managed import ManagedServers
from cygnet.spark.ui_auth import bearer
from cygnet.storage.sync_jobs import SyncJobs
from cygnet.views import EnvironmentCache, discover

from . import (
    busy_activity,
    collaboration,
    compute_handlers,
    dask_dashboard,
    folder_handlers,
    handlers,
    history_handlers,
    kerberos_handlers,
    log_scrub,
    metrics,
    openapi,
    run_handlers,
    runs_loop,
    schedule_handlers,
    session_access,
    session_handlers,
    share_handlers,
    share_public,
    spark_handlers,
    spark_ui,
    storage_handlers,
    sync_handlers,
    usage_report,
)
from .dask_sweep import start_sweep as start_dask_sweep
from .kerberos_renewal import refresh_tokens, start_renewal
from .opener import handlers as opener_handlers
from .opener.core import settings_from
from .opener.environment import link_environment
from .spark_sweep import start_sweep
from .work import Work

HERE = os.path.dirname(__file__)
KERNEL_MANAGER_SECTIONS = ("MappingKernelManager", "MultiKernelManager", "AsyncMultiKernelManager")
MAX_HEADER_BYTES = 256 * 1024  # tornado's 64 KiB default drops a long query without an answer
FEATURES = (
    openapi,
    handlers,
    opener_handlers,
    run_handlers,
    schedule_handlers,
    sync_handlers,
    history_handlers,
    compute_handlers,
    spark_handlers,
    kerberos_handlers,
    storage_handlers,
    share_handlers,
    folder_handlers,
    session_handlers,
    share_public,
    spark_ui,
    dask_dashboard,
)


class CygnetApp(ExtensionAppJinjaMixin, ExtensionApp):
    name = "cygnet"
    load_other_extensions = True
    classes = [Cygnet]
    template_paths = [os.path.join(HERE, "templates")]
    static_paths = [os.path.join(HERE, "static")]

    # --- linking: before the server makes its managers ------------------------------------
    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)
        # The kernel spec manager class can still be chosen here. The trait itself is not read:
        # its default needs parts of the server that do not exist yet. A site's own class stays.
        chosen = serverapp.config.ServerApp.get("kernel_spec_manager_class")
        if chosen is None:
            from cygnet.kernels.specs import CygnetKernelSpecManager

            serverapp.kernel_spec_manager_class = CygnetKernelSpecManager
        else:
            serverapp.log.warning(
                "cygnet: ServerApp.kernel_spec_manager_class is configured (%s); kernels run in "
                "software views only if it is Cygnet's or a subclass of it",
                chosen,
            )
        # Notebooks take a kernel started ahead when there is one (cygnet.kernels.pool), and kernel
        # websockets send each frame at once (.kernel_websocket). The server makes these after
        # linking, so the classes can still be chosen here; a site's own stay.
        gateway = serverapp.config.get("GatewayClient", {}).get("url") or os.environ.get("JUPYTER_GATEWAY_URL")
        if serverapp.config.ServerApp.get("kernel_manager_class") is None and not gateway:
            from cygnet.kernels.pool import PooledKernelManager

            serverapp.kernel_manager_class = PooledKernelManager
        if serverapp.config.ServerApp.get("kernel_websocket_connection_class") is None and not gateway:
            from .kernel_websocket import PromptKernelWebsocketConnection

            serverapp.kernel_websocket_connection_class = PromptKernelWebsocketConnection
        # Terminals run in the user's view (linked before jupyter_server_terminals, which reads this).
        terminals = serverapp.config.TerminalsExtensionApp
        if "terminal_manager_class" not in terminals:
            from .terminals import ViewTerminalManager

            terminals.terminal_manager_class = ViewTerminalManager
        # With a storage endpoint, the file browser shows the user's EOS home as EOS/.
        if (
            serverapp.config.get("Cygnet", {}).get("storage_endpoint")
            and serverapp.config.ServerApp.get("contents_manager_class") is None
        ):
            from .eos_contents import EOSContentsManager

            serverapp.contents_manager_class = EOSContentsManager
        # nbgitpuller is used as a library; its own /git-pull handler would bypass Cygnet's URL
        # checks and limits, so Cygnet serves /git-pull itself.
        nbgitpuller = serverapp.extension_manager.extensions.get("nbgitpuller")
        if nbgitpuller is not None:
            nbgitpuller.enabled = False
        # Real-time co-editing, its stores in the user's data dir, and users named in it.
        collaboration.link(serverapp, Cygnet(config=serverapp.config))
        _answer_long_requests(serverapp)

    # --- the shared state ----------------------------------------------------------------
    def initialize_settings(self):
        serverapp = self.serverapp
        # Kernels learn this server's Spark UI route from it (cygnet.spark.kernel_env).
        os.environ[contract.SERVER_BASE_URL.name] = serverapp.base_url
        # Managed Spark Connect servers work in the workspace (relative paths land there).
        os.environ[contract.WORKSPACE.name] = serverapp.root_dir
        # What this server and its kernels start is recorded as this server's (one user's other
        # sessions share the data dir: cygnet.spark.managed).
        self.server_id = os.environ[contract.SERVER_ID.name] = secrets.token_hex(8)
        config = self.cygnet = Cygnet(parent=self)
        _make_private(self, config)
        _stop_cleanly_on_sigint(serverapp)
        # Every process that acts for the user (kernels, terminals, sync jobs, the XRootD client
        # in this server) uses the user's own Kerberos cache, never the account's shared one.
        self.kerberos_ccache = kerberos.ccache_of(config.data_dir)  # made once, used by the API and renewal
        os.environ["KRB5CCNAME"] = self.kerberos_ccache
        handed = _install_handed_ticket(self)
        for log in (serverapp.log, self.log):  # handlers log through the app, requests through the server
            log_scrub.install(log)
        ksm = serverapp.kernel_spec_manager
        if hasattr(ksm, "views"):
            self.list_views = ksm.views
            _choose_default_kernel(serverapp, ksm)
            # The first terminal's environment comes from the kept copy, not a setup.sh on the loop.
            threading.Thread(target=_warm_default_view, args=(ksm,), daemon=True).start()
        else:  # a site-chosen spec manager: views can still be listed
            cache = EnvironmentCache(config.cache_dir, config.view_setup_timeout)
            self.list_views = partial(_discover, config, cache)
        if hasattr(serverapp.kernel_manager, "pool"):  # a kernel for the view used last, started ahead
            _seed_kernel_pool(serverapp)  # first: the environment kernels see is settled above
        workspace = serverapp.web_app.settings["server_root_dir"]
        self.work = Work(config.long_work_workers, config.long_work_per_user)
        self.kerberos_renewal = start_renewal(self)
        if handed:  # the Spark clusters' delegation tokens, as after an Authenticate
            IOLoop.current().add_callback(refresh_tokens, self)
        self.shares = open_share_store(config, workspace)
        self.live_folders = folder_handlers.open_live_folders(self, workspace)
        self.live_folders_sync = folder_handlers.start_sync(self)
        self.catalogue = partial(load_catalogue, config.clusters or None)
        self.spark_servers = ManagedServers(servers_dir(config), self.catalogue, workspace, self.server_id)
        self.spark_sweep = start_sweep(self)
        self.dask_sweep = start_dask_sweep(self)
        self.usage_report = usage_report.start(self)  # under a hub: cluster cores for its usage ledger
        self.busy_activity = busy_activity.start(serverapp)  # a computing kernel is not idle
        atexit.register(self.spark_servers.stop_all)  # a managed server lives no longer than the service
        self.share_pages = RenderCache()
        self.open_settings = dataclasses.replace(
            settings_from(config),
            shares=self.shares,
            environments=partial(link_environment, ksm) if hasattr(ksm, "views") else None,
        )
        self.runs = Runs(
            run_settings.from_config(config, serverapp.log),
            workspace,
            kernel_specs=ksm if hasattr(ksm, "views") else None,
        )
        try:
            self.runs.check()
        except CygnetError as e:  # named at start; the rest of Cygnet, and runs naming a backend, still work
            serverapp.log.error("cygnet: batch runs: %s", e)
        self.schedules = Schedules(self.runs)
        self.runs_loop = runs_loop.start(self, serverapp)
        self.sync_jobs = SyncJobs(workspace, config.box_url, config.data_dir, config.shares_url, config.box_versions)
        metrics.start(self)  # Cygnet's counts beside jupyter_server's own at /metrics
        if session_access.owner():  # under a hub the session can be shared: a revoke closes sockets
            IOLoop.current().add_callback(session_access.track_websockets, serverapp.web_app)
            self.session_rechecks = session_access.start_rechecks(serverapp, config.session_recheck_interval)
        serverapp.log.info(
            "cygnet: extension loaded; views roots: %s", ", ".join(map(str, config.effective_views_roots()))
        )

    async def stop_extension(self):
        for timer in self._timers():
            timer.stop()
        await usage_report.stop(self)  # what the session's kernels used, before they stop

    def _timers(self):
        """The periodic checks this extension started (those a site turned off are None)."""
        started = [
            getattr(self, name, None)
            for name in (
                "kerberos_renewal",
                "live_folders_sync",
                "dask_sweep",
                "usage_report",
                "busy_activity",
                "session_rechecks",
            )
        ]
        return [timer for timer in [*started, *getattr(self, "spark_sweep", ())] if timer is not None]

    def initialize_handlers(self):
        # Each feature declares its routes beside its handlers (`default_handlers`, as
        # jupyter_server's services do); the app only collects them.
        for feature in FEATURES:
            self.handlers.extend(feature.default_handlers)
        self.handlers.extend(openapi.fallback_handlers)
        if not self.cygnet.generic_port_proxy:
            # Ahead of jupyter-server-proxy's own routes (extensions load by name, cygnet first).
            self.handlers.append((r"/proxy/(.*)", handlers.GenericProxyOffHandler))


def _seed_kernel_pool(serverapp):
    """Launch the pool's first kernel now, while the other extensions load (as JupyterHub's own
    extension runs its checks on the loop before it starts): its boot then overlaps the rest of
    the server's start instead of following it. A loop already running (a server started in a
    test's process) is left alone: the pool is seeded from it."""
    pool = serverapp.kernel_manager.pool
    loop = IOLoop.current()
    if loop.asyncio_loop.is_running():  # type: ignore[attr-defined]
        loop.add_callback(pool.seed)
    else:
        loop.run_sync(pool.seed_launched)


def _stop_cleanly_on_sigint(serverapp):
    """Without a terminal, jupyter_server leaves SIGINT to Python, whose KeyboardInterrupt ends
    the server at once, skipping its cleanup (the extensions' stop, the kernels' shutdown). It is
    how JupyterHub's local spawners stop a session: it stops the server as SIGTERM does."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread() or (sys.stdin and sys.stdin.isatty()):
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, serverapp._signal_stop)


def _make_private(app, config):
    """What this session writes is its account's alone, and its servers answer only it: umask
    077 and a private scratch for everything it starts (cygnet.core.scratch), and the session's
    key, which its routes present to its Spark UIs and Dask dashboards (cygnet.core.session_key)."""
    scratch.private_umask()
    scratch.private_dir(config.data_dir)
    os.environ.update(scratch.prepare(config.data_dir, config.scratch_dir))
    atexit.register(scratch.remove, os.environ[contract.SCRATCH.name])
    os.environ[contract.SESSION_KEY.name] = session_key.key_path(config.data_dir)  # kernels and Connect servers read it
    app.session_key = session_key.session_key()
    app.spark_ui_bearer = bearer(app.session_key)


def _warm_default_view(ksm):
    try:
        ksm.view_environment()
    except Exception as e:  # noqa: BLE001 - only a head start; the error comes again where it matters
        ksm.log.debug("cygnet: the default view's environment was not prepared: %s", e)


def _discover(config, cache):
    return discover(config.effective_views_roots(), cache.known_problems())


def _choose_default_kernel(serverapp, ksm):
    """New notebooks get the default view's kernel unless the site chose a default itself."""
    if ksm.cygnet.keep_native_kernels:
        return
    if any("default_kernel_name" in serverapp.config.get(s, {}) for s in KERNEL_MANAGER_SECTIONS):
        return
    name = ksm.default_kernel_name()
    if name:
        serverapp.kernel_manager.default_kernel_name = name


def _answer_long_requests(serverapp):
    """Let requests with headers up to MAX_HEADER_BYTES reach the handlers, which answer a query
    that is too long with a 414 and a message, where tornado would close the connection with
    none. The server's HTTPServer is made after extensions load, so its making is wrapped."""
    make = serverapp.init_httpserver

    def init_httpserver():
        make()
        server = getattr(serverapp, "_http_server", None) or getattr(serverapp, "http_server", None)
        params = getattr(server, "conn_params", None)
        if params is not None and (params.max_header_size or 0) < MAX_HEADER_BYTES:
            params.max_header_size = MAX_HEADER_BYTES

    serverapp.init_httpserver = init_httpserver


def _install_handed_ticket(app):
    """A ticket the hub handed over at login (cygnet.hub.kerberos_login) becomes the user's
    cache; the variable is removed first, so no kernel or terminal ever inherits it."""
    handed = os.environ.pop(contract.KERBEROS_TICKET.name, None)
    if not handed:
        return False
    try:
        ticket = kerberos.install(app.kerberos_ccache, base64.b64decode(handed, validate=True))
    except (ValueError, OSError, CygnetError) as e:
        app.log.warning("cygnet: the ticket from the login could not be installed: %s", type(e).__name__)
        return False
    app.log.info("cygnet: the Kerberos ticket of %s from the login is in place", ticket.principal)
    return True
