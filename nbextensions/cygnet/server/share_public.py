"""The public pages of shares under /cygnet/s/{token} on a user's server, from its embedded
store: no login, sandboxed. The pages themselves are cygnet.shares.pages; these are its
jupyter_server faces."""

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join

from cygnet.shares.pages import BadShareLinks, SharePages, page_routes

from .log_scrub import scrub_secrets


class PublicShareHandler(SharePages, ExtensionHandlerMixin, JupyterHandler):
    """/cygnet/s/{token}[/raw|/view[/{file}]]: a share's page or download."""

    @allow_unauthenticated
    async def get(self, token, action=None, rel=None):
        return await super().get(token, action, rel)

    def share_store(self):
        return self.extensionapp.shares

    def page_cache(self):
        return self.extensionapp.share_pages

    async def quick(self, function, *args, timeout=60):
        return await self.extensionapp.work.quick(function, *args, timeout=timeout)

    def page_root(self, token):
        return url_path_join(self.base_url, "cygnet", "s", token)

    def open_link(self, token):
        return url_path_join(self.base_url, "cygnet", "open") + "?share=" + token

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


class BadShareLinkHandler(BadShareLinks, ExtensionHandlerMixin, JupyterHandler):
    """Anything else under /cygnet/s/: a JSON 404 (or 414 for an over-long token)."""

    @allow_unauthenticated
    def get(self, rest):
        return super().get(rest)

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


default_handlers = page_routes("/cygnet/s/", PublicShareHandler, BadShareLinkHandler)
