"""The public pages of shares under /cygnet/s/{token}: no login, sandboxed (see share_page)."""

import asyncio
import tempfile
from urllib.parse import quote

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from cygnet.core.errors import BadInput, CygnetError, as_http_error

from . import share_page
from .log_scrub import scrub_secrets


class SharePages:
    """The public pages of shares, for any tornado handler: GET <root>/{token}: the share's page;
    .../raw: download (a folder as a zip); .../view/{file} and .../raw/{file}: one file of a
    folder share. Public on purpose. A handler gives the store, the page cache, a pool to run
    blocking work on, where pages live and where "Open a copy" goes (see the two below)."""

    content_security_policy = share_page.PAGE_CSP  # replaces Jupyter's, on every answer

    def share_store(self):
        raise NotImplementedError

    def page_cache(self):
        raise NotImplementedError

    async def quick(self, function, *args, timeout=60):
        raise NotImplementedError

    def page_root(self, token):
        """The path of a share's page."""
        raise NotImplementedError

    def open_link(self, token):
        """Where "Open a copy" goes: the viewer's own session."""
        raise NotImplementedError

    def page_template(self):
        raise NotImplementedError

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")  # the token is in the URL
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")  # a revoked link must stop working at once

    async def get(self, token, action=None, rel=None):
        store = self.share_store()
        try:
            share = store.resolve(token)  # one indexed SQLite lookup: cheap enough for the loop
            if action == "raw":
                return await self._download(store, share, rel)
            if action == "view" and (share.kind != "folder" or not rel):
                raise BadInput("view/ is for files of a shared folder")
            if share.kind != "folder" and rel:
                raise BadInput("this share is a single file")
            entry = await self._rendered(store, share, token, rel)
        except CygnetError as e:
            raise as_http_error(e) from None
        data, gzipped, etag = entry
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("ETag", etag)
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            data = gzipped
        self.finish(data)

    async def _rendered(self, store, share, token, rel):
        key = (share.id, share.rev, rel or "")
        cache = self.page_cache()
        entry = cache.get(key)
        if entry is None:
            entry = await _once(key, lambda: self.quick(self._render, store, share, token, rel, cache, key))
        return entry

    def _render(self, store, share, token, rel, cache, key):
        root = self.page_root(token)

        def link(suffix):
            return root + "/" + suffix

        actions = [("Open a copy", self.open_link(token))]
        if share.kind == "folder" and not rel:
            body = share_page.listing_body(share, link)
            title, actions = share.name + "/", [("Download zip", link("raw"))] + actions
        else:
            name = rel or share.files[0][0]
            raw = store.read(share, rel)
            try:
                body = share_page.notebook_body(raw) if name.endswith(".ipynb") else share_page.file_body(name, raw)
            except Exception as e:  # noqa: BLE001 - a page that cannot be made is cached as such, not redone per hit
                self.log.warning("cygnet: a shared %s could not be rendered: %s", share.kind, type(e).__name__)
                body = share_page.note(f"This file cannot be shown ({type(e).__name__}); download it instead.")

            title = name
            download = link("raw/" + quote(rel)) if rel else link("raw")
            actions = [("Download", download)] + ([("Folder", root)] if rel else []) + (actions if not rel else [])
        subtitle = f"Shared by {share.owner} · read-only snapshot"
        return cache.put(key, share_page.page(self.page_template(), title, subtitle, body, actions))

    async def _download(self, store, share, rel):
        if share.kind == "folder" and not rel:
            spool = await self.quick(self._zip, store, share, timeout=600)
            name = share.name + ".zip"
            self.set_header("Content-Type", "application/zip")
        else:
            data = await self.quick(store.read, share, rel, timeout=600)
            spool, name = None, (rel or share.files[0][0]).rsplit("/", 1)[-1]
            self.set_header("Content-Type", "application/octet-stream")  # never rendered in our origin
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        if spool is None:
            return self.finish(data)
        with spool:
            while chunk := spool.read(1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()

    @staticmethod
    def _zip(store, share):
        spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
        store.write_zip(share, spool)
        spool.seek(0)
        return spool

    def write_error(self, status_code, **kwargs):
        """A plain page: Jupyter's own error page needs its scripts, which the sandbox blocks."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            share_page.page(
                self.page_template(),
                f"{status_code} {self._reason}",
                "Cygnet share",
                share_page.note(message),
                [],
            )
        )

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


class PublicShareHandler(SharePages, ExtensionHandlerMixin, JupyterHandler):
    """/cygnet/s/{token} on a user's server, from its embedded store."""

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

    def page_template(self):
        return self.settings[f"{self.name}_jinja2_env"].get_template("share.html")


_in_flight = {}


async def _once(key, start):
    """Run `start()` once for concurrent callers with the same key: fifty viewers arriving
    together at a notebook not rendered yet cause one rendering, not fifty."""
    task = _in_flight.get(key)
    if task is None:
        task = _in_flight[key] = asyncio.ensure_future(start())
        task.add_done_callback(lambda _: _in_flight.pop(key, None))
    return await asyncio.shield(task)


TOKEN = r"[A-Za-z0-9_-]{16,64}"
default_handlers = [
    (rf"/cygnet/s/({TOKEN})", PublicShareHandler),
    (rf"/cygnet/s/({TOKEN})/(raw|view)", PublicShareHandler),
    (rf"/cygnet/s/({TOKEN})/(raw|view)/(.+)", PublicShareHandler),
]
