"""Server-side set-up of the extension: shared state and routes."""

from functools import partial

from jupyter_server.utils import url_path_join

from cygnet.core.config import Cygnet
from cygnet.views import EnvironmentCache, discover

from . import handlers

KERNEL_MANAGER_SECTIONS = ("MappingKernelManager", "MultiKernelManager", "AsyncMultiKernelManager")


def setup(serverapp):
    ksm = serverapp.kernel_spec_manager
    if hasattr(ksm, "views"):
        list_views = ksm.views
        _choose_default_kernel(serverapp, ksm)
    else:  # a site-chosen spec manager: views can still be listed
        config = Cygnet(parent=serverapp)
        cache = EnvironmentCache(config.cache_dir, config.view_setup_timeout)
        list_views = partial(_discover, config, cache)

    serverapp.web_app.settings["cygnet_list_views"] = list_views
    base = url_path_join(serverapp.web_app.settings["base_url"], "cygnet", "api")
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, "views"), handlers.ViewsHandler),
    ])
    serverapp.log.info("cygnet: extension loaded; views roots: %s",
                       ", ".join(map(str, Cygnet(parent=serverapp).effective_views_roots())))


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
