"""Server-side set-up of the extension: shared state and routes."""

import atexit
import dataclasses
from functools import partial

from jupyter_server.utils import url_path_join

from cygnet.core.config import Cygnet
from cygnet.views import EnvironmentCache, discover

from cygnet.spark.catalogue import load_catalogue
from cygnet.spark.kernel_env import servers_dir
from cygnet.spark.managed import ManagedServers
from cygnet.storage.shares import ShareStore

from cygnet.storage.sync_jobs import SyncJobs

from . import handlers, log_scrub, share_handlers, spark_handlers, sync_handlers
from .opener import handlers as opener_handlers
from .opener.core import settings_from
from .share_page import RenderCache
from .work import Work

KERNEL_MANAGER_SECTIONS = ("MappingKernelManager", "MultiKernelManager", "AsyncMultiKernelManager")


def setup(serverapp):
    config = Cygnet(parent=serverapp)
    ksm = serverapp.kernel_spec_manager
    if hasattr(ksm, "views"):
        list_views = ksm.views
        _choose_default_kernel(serverapp, ksm)
    else:  # a site-chosen spec manager: views can still be listed
        cache = EnvironmentCache(config.cache_dir, config.view_setup_timeout)
        list_views = partial(_discover, config, cache)

    settings = serverapp.web_app.settings
    log_scrub.install(serverapp.log)
    settings["cygnet_work"] = Work(config.long_work_workers, config.long_work_per_user)
    settings["cygnet_list_views"] = list_views
    shares = ShareStore(config.shares_db, config.shares_url, settings["server_root_dir"], config.share_max_bytes)
    settings["cygnet_shares"] = shares
    catalogue = partial(load_catalogue, config.spark_clusters or None)
    settings["cygnet_spark_catalogue"] = catalogue
    servers = ManagedServers(servers_dir(config), catalogue)
    settings["cygnet_spark_servers"] = servers
    atexit.register(servers.stop_all)  # a managed server lives no longer than the service
    settings["cygnet_share_pages"] = RenderCache()
    settings["cygnet_open_settings"] = dataclasses.replace(settings_from(config), shares=shares)
    settings["cygnet_link_base_url"] = config.link_base_url
    settings["cygnet_sync_jobs"] = SyncJobs(settings["server_root_dir"], config.box_url, config.data_dir,
                                            config.shares_url)
    base = url_path_join(settings["base_url"], "cygnet")
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, "api", "views"), handlers.ViewsHandler),
        (url_path_join(base, "api", "open"), opener_handlers.OpenEventsHandler),
        (url_path_join(base, "api", "sync"), sync_handlers.SyncJobsHandler),
        (url_path_join(base, "api", "sync", r"([0-9a-f]{32})"), sync_handlers.SyncJobHandler),
        (url_path_join(base, "api", "sync", r"([0-9a-f]{32})", "resume"), sync_handlers.SyncResumeHandler),
        (url_path_join(base, "api", "spark", "(clusters|bundles|options)"), spark_handlers.SparkCatalogueHandler),
        (url_path_join(base, "api", "spark", "servers"), spark_handlers.SparkServersHandler),
        (url_path_join(base, "api", "spark", "servers", "([0-9a-f]{16})"), spark_handlers.SparkServerHandler),
        (url_path_join(base, "api", "shares"), share_handlers.SharesHandler),
        (url_path_join(base, "api", "shares", "with-me"), share_handlers.SharesWithMeHandler),
        (url_path_join(base, "api", "shares", f"({share_handlers.SHARE_ID})"), share_handlers.ShareHandler),
        (url_path_join(base, "api", "shares", f"({share_handlers.SHARE_ID})", "refresh"),
         share_handlers.ShareRefreshHandler),
        (url_path_join(base, "s", f"({share_handlers.TOKEN})"), share_handlers.PublicShareHandler),
        (url_path_join(base, "s", f"({share_handlers.TOKEN})", "(raw|view)"), share_handlers.PublicShareHandler),
        (url_path_join(base, "s", f"({share_handlers.TOKEN})", "(raw|view)", "(.+)"),
         share_handlers.PublicShareHandler),
        (url_path_join(base, "open"), opener_handlers.OpenPageHandler),
        (url_path_join(base, "link"), opener_handlers.LinkHandler),
        (url_path_join(base, "api", "link"), opener_handlers.LinkHandler),
        (url_path_join(base, "badge.svg"), opener_handlers.BadgeHandler),
        (url_path_join(settings["base_url"], "git-pull"), opener_handlers.GitPullHandler),
    ])
    serverapp.log.info("cygnet: extension loaded; views roots: %s",
                       ", ".join(map(str, config.effective_views_roots())))


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
