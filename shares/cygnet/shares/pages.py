"""The public pages of shares, for any tornado handler: the user's server serves them under
/cygnet/s/ (cygnet.server.share_public) and the hub's share service under its own prefix
(cygnet.hub.shares_service), both through the mixins and routes here. No login, on purpose:
the link is the key. Pages are sandboxed and sanitized (see render)."""

import asyncio
import re
import tempfile
from urllib.parse import quote

from prometheus_client import Counter
from tornado import web

from cygnet.core.errors import BadInput, CygnetError, as_http_error

from . import render

TOKEN = r"[A-Za-z0-9_-]{16,64}"
MAX_TOKEN = 64
_TOKEN = re.compile(TOKEN)


def page_routes(root, page, bad_link, kwargs=None):
    """The routes of the pages under `root` (a path ending in '/'): GET {token}: the share's
    page; .../raw: download (a folder as a zip); .../view/{file} and .../raw/{file}: one file of
    a folder share. `page` is a SharePages handler; `bad_link` (a BadShareLinks handler) answers
    anything else under `root` with a JSON error. `kwargs`: the handlers' initialize arguments."""
    extra = () if kwargs is None else (kwargs,)
    return [
        (rf"{root}({TOKEN})/?", page, *extra),
        (rf"{root}({TOKEN})/(raw|view)/?", page, *extra),
        (rf"{root}({TOKEN})/(raw|view)/(.+)", page, *extra),
        (rf"{root}(.*)", bad_link, *extra),  # last: what no page route matched
    ]


def bad_link(rest):
    """(status, message) for a path under the pages' root that is no share page: a token that
    cannot be one (never echoed: it may be a real token, mistyped), or a page that does not exist."""
    token, _, _ = rest.partition("/")
    if len(token) > MAX_TOKEN:
        return 414, f"not a share link: a share's token has at most {MAX_TOKEN} characters, not {len(token)}"
    if not _TOKEN.fullmatch(token):
        return 404, "not a share link: a share's token is 16 to 64 letters, digits, '-' or '_'"
    return 404, "no such page of a share: a share link is .../{token}, .../{token}/raw or .../{token}/view/{file}"


def _public_headers(handler):
    handler.set_header("Content-Security-Policy", render.PAGE_CSP)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")  # the token is in the URL
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Cache-Control", "no-store")  # a revoked link must stop working at once


SHARE_PAGE_VIEWS = Counter("cygnet_share_page_views", "Share pages and downloads asked for (any answer)")


class SharePages:
    """The public pages of shares (see page_routes), mixed into a tornado handler. The handler
    gives the store, the page cache (a render.RenderCache), a pool to run blocking work on, where
    pages live and where "Open a copy" goes. It scrubs share tokens from its log lines itself
    (`_request_summary`), as its server's log does."""

    content_security_policy = render.PAGE_CSP  # replaces Jupyter's, on every answer

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

    def set_default_headers(self):
        super().set_default_headers()
        _public_headers(self)

    async def get(self, token, action=None, rel=None):
        SHARE_PAGE_VIEWS.inc()
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
            entry = await render_once(key, lambda: self.quick(self._render, store, share, token, rel, cache, key))
        return entry

    def _render(self, store, share, token, rel, cache, key):
        root = self.page_root(token)

        def link(suffix):
            return root + "/" + suffix

        actions = [("Open a copy", self.open_link(token))]
        if share.kind == "folder" and not rel:
            body = render.listing_body(share, link)
            title, actions = share.name + "/", [("Download zip", link("raw"))] + actions
        else:
            name = rel or share.files[0][0]
            raw = store.read(share, rel)
            try:
                body = render.notebook_body(raw) if name.endswith(".ipynb") else render.file_body(name, raw)
            except Exception as e:  # noqa: BLE001 - a page that cannot be made is cached as such, not redone per hit
                self.log.warning("cygnet: a shared %s could not be rendered: %s", share.kind, type(e).__name__)
                body = render.note(f"This file cannot be shown ({type(e).__name__}); download it instead.")

            title = name
            download = link("raw/" + quote(rel)) if rel else link("raw")
            actions = [("Download", download)] + ([("Folder", root)] if rel else []) + (actions if not rel else [])
        subtitle = f"Shared by {share.owner} · read-only snapshot"
        return cache.put(key, render.page(title, subtitle, body, actions))

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
        self.finish(render.page(f"{status_code} {self._reason}", "Cygnet share", render.note(message), []))


class BadShareLinks:
    """Any other path under the pages' root (see page_routes): a JSON error with a message, 414
    for a token longer than any share's, else 404, where the server would answer its own HTML
    404 page (or none at all)."""

    content_security_policy = render.PAGE_CSP

    def set_default_headers(self):
        super().set_default_headers()
        _public_headers(self)

    def get(self, rest):
        raise web.HTTPError(*bad_link(rest))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Content-Type", "application/json")
        self.finish({"message": message})


_in_flight = {}


async def render_once(key, start):
    """Run `start()` once for concurrent callers with the same key: fifty viewers arriving
    together at a notebook not rendered yet cause one rendering, not fifty."""
    task = _in_flight.get(key)
    if task is None:
        task = _in_flight[key] = asyncio.ensure_future(start())
        task.add_done_callback(lambda _: _in_flight.pop(key, None))
    return await asyncio.shield(task)
