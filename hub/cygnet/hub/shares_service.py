"""`cygnet-shares`: the share store as a JupyterHub service, so share links outlive the sessions
that made them and users share with each other by name.

The hub starts it (see setup.add_shares_service) and routes /services/cygnet-shares/ to it. It
holds the one store of the hub (`ShareStore`: its database and snapshots, under the hub's data
dir or in the site's box) and serves:

- the public pages of shares, `s/{token}` (no login; the same pages as on a user's server,
  from cygnet.shares.pages);
- a REST API under `api/`, for users' servers (the Share dialog and *Shared* panel go through
  them), `cygnet share` in a terminal and scripts; every call carries a hub token and acts for
  its owner only: `api/shares` (list, make from a bundle), `api/shares/{id}` (get, revoke),
  `api/shares/{id}/refresh` (a new bundle), `api/shares/with-me[/{id}[/bundle]]` (shares that
  name you, and their content), `api/links/{token}[/bundle]` (what a link opens, for a copy);
- the site's gallery (cygnet.shares.gallery): public pages `gallery[?q=]`, `gallery/{id}`,
  `gallery/{id}/thumb.png` and `gallery/{id}/raw`; `api/shares/{id}/gallery` (the owner publishes
  with POST {title, description}, unpublishes with DELETE), `api/gallery[?q=]` and
  `api/gallery/{id}[/bundle]` (any user: list, and the content for *Open in Cygnet*), and
  `api/gallery/{id}/hidden` (an admin hides with PUT, shows again with DELETE).

The snapshot is taken by the user's server, which can read the workspace, and sent here as a
bundle (`cygnet.shares.bundle`); the service never reads a user's files.
"""

import html
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from urllib.parse import quote, urlsplit

from tornado import ioloop, web

from cygnet.core import checks, contract
from cygnet.core.errors import BadInput, CygnetError, as_http_error
from cygnet.server.log_scrub import ScrubSecrets, scrub_secrets
from cygnet.server.work import Work
from cygnet.shares import gallery_pages, render
from cygnet.shares.bundle import unpack_to_temp
from cygnet.shares.folders import SharedFolders
from cygnet.shares.gallery import Gallery
from cygnet.shares.pages import TOKEN, BadShareLinks, SharePages, page_routes, render_once
from cygnet.shares.render import RenderCache
from cygnet.shares.store import ShareStore

from . import service_metrics
from .service_api import ServiceApiHandler
from .service_metrics import MetricsHandler
from .signals import stop_on_signals

log = logging.getLogger("cygnet.shares")
SHARE_ID = r"[0-9a-f]{16}"
SPOOL_BYTES = 32 << 20


class Service:
    """What every handler shares: the store, the pools, the page cache, the addresses."""

    def __init__(self, store, prefix, hub_base, work=None, folders=None):
        self.store, self.prefix, self.hub_base = store, prefix, hub_base
        self.folders = folders
        self.work = work or Work()
        self.pages = RenderCache(entries=256)
        self.gallery = Gallery(store)

    def open_link(self, token):
        """A copy opens in the viewer's own session, through login and spawn if need be."""
        return f"{self.hub_base}hub/user-redirect/cygnet/open?share={token}"


class PublicPage(SharePages, web.RequestHandler):
    """s/{token}[/raw|/view[/{file}]]: a share's page or download."""

    log = log

    def initialize(self, service):
        self.service = service

    def share_store(self):
        return self.service.store

    def page_cache(self):
        return self.service.pages

    async def quick(self, function, *args, timeout=60):
        return await self.service.work.quick(function, *args, timeout=timeout)

    def page_root(self, token):
        return f"{self.service.prefix}s/{token}"

    def open_link(self, token):
        return self.service.open_link(token)

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


class BadLink(BadShareLinks, web.RequestHandler):
    """Anything else under s/: a JSON 404 (or 414 for an over-long token)."""

    def initialize(self, service):
        self.service = service

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


class ApiHandler(ServiceApiHandler):
    """A call of the REST API: a hub token (a session's, or one a user made with the scope
    access:services!service=cygnet-shares) names the user; answers are JSON, errors too."""

    def initialize(self, service):
        self.service = service

    def prepare(self):
        if len(self.request.query) > 8192:
            raise web.HTTPError(414, "the query is too long")
        if not self.current_user:
            raise web.HTTPError(403, "a hub token with access to the cygnet-shares service is needed")
        if self.current_user.get("kind", "user") != "user":
            raise web.HTTPError(403, "shares belong to users: use a user's token, not a service's")

    @property
    def user(self):
        return self.current_user["name"]

    async def core(self, function, *args, timeout=60):
        try:
            return await self.service.work.quick(function, *args, timeout=timeout)
        except CygnetError as e:
            raise as_http_error(e) from e

    def argument(self, name, max_length=4096):
        try:
            return checks.text(self.get_argument(name, None), name, required=False, max_length=max_length)
        except BadInput as e:
            raise as_http_error(e) from e

    def share_json(self, share, **extra):
        entry = self.service.gallery.published(share.id)
        gallery = entry and {k: v for k, v in entry.to_dict().items() if k in ("title", "description", "hidden")}
        return {**share.to_dict(), "listing": share.files, "gallery": gallery, **extra}

    def body(self, allowed):
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError):
            raise web.HTTPError(400, "the body is not valid JSON") from None
        try:
            return checks.body(data, allowed)
        except BadInput as e:
            raise as_http_error(e) from e

    def _request_summary(self):
        return scrub_secrets(super()._request_summary())


@web.stream_request_body
class BundleHandler(ApiHandler):
    """A handler whose POST body is a share's bundle (a zip), spooled as it arrives."""

    def prepare(self):
        super().prepare()
        self.spool = None
        if self.request.method == "POST":
            # The bundle is at most the site's limit, plus the zip's own headers.
            self.request.connection.set_max_body_size(self.service.store.max_bytes + (64 << 20))
            self.spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)

    def data_received(self, chunk):
        if self.spool is not None:
            self.spool.write(chunk)

    def on_finish(self):
        if self.spool is not None:
            self.spool.close()

    def unpacked(self, rel, kind):
        """(staging folder, unpacked source) of the bundle received, for a share of `rel`."""
        if self.spool is None or self.spool.tell() == 0:
            raise BadInput("send the share's content as a zip bundle in the body")
        self.spool.seek(0)
        name = rel.rstrip("/").rsplit("/", 1)[-1]
        return unpack_to_temp(self.spool, name, kind, self.service.store.max_bytes)


class SharesHandler(BundleHandler):
    """GET api/shares[?path=P]: your shares. POST ?path=&kind=&expires_in=&users=a,b with the
    bundle as body: a new share; its token is in this answer only."""

    async def get(self):
        shares = await self.core(self.service.store.list, self.user, self.argument("path"))
        self.finish_json([self.share_json(s) for s in shares])

    async def post(self):
        path, kind = self.argument("path"), self.argument("kind", 16)
        if not path:
            raise web.HTTPError(400, "path is required: where the shared file is in your workspace")
        users = [u for u in (self.argument("users", 65536) or "").split(",") if u]
        expires_in = self.argument("expires_in", 64)
        share, token = await self.core(self._create, path, kind or "", expires_in, users, timeout=600)
        prefix = self.service.prefix
        self.finish_json(self.share_json(share, token=token, url=f"{prefix}s/{token}"), 201)

    def _create(self, path, kind, expires_in, users):
        staging, source = self.unpacked(path, kind)
        try:
            return self.service.store.create_from(path, source, self.user, expires_in, users)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class ShareHandler(ApiHandler):
    """GET api/shares/{id}: one of yours. DELETE: revoke it (its link answers 404 at once)."""

    async def get(self, share_id):
        self.finish_json(self.share_json(await self.core(self.service.store.get, share_id, self.user)))

    async def delete(self, share_id):
        await self.core(self.service.store.revoke, share_id, self.user)
        self.service.gallery.changed()  # a revoked share leaves the gallery with it
        self.set_status(204)
        self.finish()


class RefreshHandler(BundleHandler):
    """POST api/shares/{id}/refresh with a new bundle: the link shows it from now on."""

    async def post(self, share_id):
        share = await self.core(self._refresh, share_id, timeout=600)
        self.service.gallery.changed()  # a new revision: a new thumbnail
        self.finish_json(self.share_json(share))

    def _refresh(self, share_id):
        share = self.service.store.get(share_id, self.user)
        staging, source = self.unpacked(share.path, share.kind)
        try:
            return self.service.store.refresh_from(share, source)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class WithMeHandler(ApiHandler):
    """GET api/shares/with-me: shares that name you; .../{id}: one; .../{id}/bundle: its content."""

    async def get(self, share_id=None, bundle=None):
        store = self.service.store
        if share_id is None:
            shares = await self.core(store.shared_with, self.user)
            return self.finish_json([self.share_json(s) for s in shares])
        share = await self.core(store.for_user, share_id, self.user)
        if bundle:
            return await send_bundle(self, share)
        self.finish_json(self.share_json(share))


class LinkHandler(ApiHandler):
    """GET api/links/{token}: what a share link opens; .../bundle: its content (for a copy)."""

    async def get(self, token, bundle=None):
        share = await self.core(self.service.store.resolve, token)
        if bundle:
            return await send_bundle(self, share)
        self.finish_json(self.share_json(share))


async def send_bundle(handler, share):
    spool = await handler.core(_bundle, handler.service.store, share, timeout=600)
    handler.set_header("Content-Type", "application/zip")
    with spool:
        while chunk := spool.read(1 << 20):
            handler.write(chunk)
            await handler.flush()
    handler.finish()


def _bundle(store, share):
    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
    store.write_bundle(share, spool)
    spool.seek(0)
    return spool


# --- the gallery -------------------------------------------------------------------------------------
class GalleryPublishHandler(ApiHandler):
    """POST api/shares/{id}/gallery {title?, description?}: publish your notebook share (again, to
    re-title it). DELETE: unpublish it."""

    async def post(self, share_id):
        body = self.body(("title", "description"))
        entry = await self.core(
            self.service.gallery.publish, share_id, self.user, body.get("title"), body.get("description")
        )
        self.finish_json(entry.to_dict(), 201)

    async def delete(self, share_id):
        await self.core(self.service.gallery.unpublish, share_id, self.user)
        self.set_status(204)
        self.finish()


class GalleryApiHandler(ApiHandler):
    """GET api/gallery[?q=]: the published notebooks (an admin also sees hidden ones);
    api/gallery/{id}: one; .../bundle: its content, for *Open in Cygnet*."""

    async def get(self, share_id=None, bundle=None):
        gallery = self.service.gallery
        if share_id is None:
            admin = bool(self.current_user.get("admin"))
            entries = await self.core(gallery.entries, self.argument("q", 200), admin)
            return self.finish_json([e.to_dict() for e in entries])
        entry = await self.core(gallery.entry, share_id)
        if bundle:
            return await send_bundle(self, entry.share)
        self.finish_json({**self.share_json(entry.share), **entry.to_dict()})


class GalleryHiddenHandler(ApiHandler):
    """PUT api/gallery/{id}/hidden: an admin hides an entry; DELETE: shows it again."""

    def prepare(self):
        super().prepare()
        if not self.current_user.get("admin"):
            raise web.HTTPError(403, "only the hub's admins hide gallery entries; owners unpublish theirs")

    async def put(self, share_id):
        self.finish_json((await self.core(self.service.gallery.hide, share_id, self.user)).to_dict())

    async def delete(self, share_id):
        self.finish_json((await self.core(self.service.gallery.hide, share_id, self.user, False)).to_dict())


class GalleryPage(web.RequestHandler):
    """gallery[?q=], gallery/{id}, gallery/{id}/thumb.png, gallery/{id}/raw: public and sandboxed,
    like share pages; an unpublished or hidden notebook is gone at once (nothing is cached by browsers)."""

    def initialize(self, service):
        self.service = service

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", gallery_pages.GALLERY_CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")

    async def get(self, share_id=None, what=None):
        gallery = self.service.gallery
        try:
            if share_id is None:
                query = checks.text(self.get_argument("q", ""), "q", required=False, max_length=200) or ""
                # Cached per search and gallery change (and minute: shares expire), so a crowd of
                # viewers costs one rendering.
                key = ("gallery", query, gallery.changes, int(time.time() // 60))
                return self._send(await self._cached(key, self._listing, query))
            entry = gallery.entry(share_id)  # one indexed lookup
            if what == "thumb.png":
                png = await self.service.work.quick(gallery.thumbnail, entry)
                if png is None:
                    raise web.HTTPError(404, "this notebook has no figure")
                self.set_header("Content-Type", "image/png")
                return self.finish(png)
            if what == "raw":
                data = await self.service.work.quick(self.service.store.read, entry.share)
                self.set_header("Content-Type", "application/octet-stream")
                self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(entry.share.name)}")
                return self.finish(data)
            key = ("gallery-page", entry.id, entry.share.rev, entry.title, entry.description)
            return self._send(await self._cached(key, self._notebook, entry))
        except CygnetError as e:
            raise as_http_error(e) from None

    async def _cached(self, key, render_page, *args):
        cache = self.service.pages
        found = cache.get(key)
        if found is None:
            found = await render_once(key, lambda: self.service.work.quick(lambda: cache.put(key, render_page(*args))))
        return found

    def _send(self, entry):
        data, gzipped, etag = entry
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("ETag", etag)
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            data = gzipped
        self.finish(data)

    def _listing(self, query):
        gallery, prefix = self.service.gallery, self.service.prefix
        entries = gallery.entries(query)
        body = gallery_pages.listing_body(entries, query, prefix, lambda e: gallery.thumbnail(e) is not None)
        return render.page("Gallery", "Notebooks published on this site", body, [])

    def _notebook(self, entry):
        prefix = self.service.prefix
        body = render.notebook_body(self.service.store.read(entry.share))
        if entry.description:
            body = f"<p>{html.escape(entry.description)}</p>" + body
        actions = [
            ("Open in Cygnet", gallery_pages.open_link(self.service.hub_base, entry.id)),
            ("Download", f"{prefix}gallery/{entry.id}/raw"),
            ("Gallery", f"{prefix}gallery"),
        ]
        return render.page(entry.title, f"Published by {entry.share.owner} · read-only", body, actions)

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(render.page(f"{status_code} {self._reason}", "Cygnet gallery", render.note(message), []))


class FoldersHandler(ApiHandler):
    """GET api/folders: {space, available, why, folders} (the folders you share live, and those you
    are let into). POST {name, path, users, mode}: a door for your folder (cygnet.shares.folders);
    your session then moves the folder through it."""

    async def get(self):
        folders = self.service.folders
        try:
            await self.core(folders.check_available, self.user)
            available, why = True, ""
        except web.HTTPError as e:
            available, why = False, e.log_message
        listed = await self.core(folders.list_for, self.user)
        self.finish_json(
            {
                "space": str(folders.space) if folders.space else None,
                "available": available,
                "why": why,
                "folders": [f.to_dict() for f in listed],
            }
        )

    async def post(self):
        body = self.body(("name", "path", "users", "mode"))
        for key in ("name", "path", "users"):
            if key not in body:
                raise web.HTTPError(400, f"{key} is required")
        folder = await self.core(
            self.service.folders.create, self.user, body["name"], body["path"], body["users"], body.get("mode", "rw")
        )
        log.info("%s shares a folder live (%s) with %s", self.user, folder.id, ", ".join(folder.members))
        self.finish_json(folder.to_dict(), 201)


class FolderHandler(ApiHandler):
    """GET api/folders/{id}: one you own or are let into. DELETE: stop sharing it (the owner's):
    every colleague is cut off at once; 200 with the folder while it is still in the space (your
    session moves it back, then calls again), 204 once it is gone from there."""

    async def get(self, folder_id):
        self.finish_json((await self.core(self.service.folders.get, folder_id, self.user)).to_dict())

    async def delete(self, folder_id):
        folder = await self.core(self.service.folders.close, folder_id, self.user)
        if folder is None:
            self.set_status(204)
            return self.finish()
        log.info("%s stopped sharing folder %s", self.user, folder_id)
        self.finish_json(folder.to_dict())


class FolderMemberHandler(ApiHandler):
    """PUT api/folders/{id}/members/{user} {mode}: let a colleague in (the owner's). DELETE: cut them off."""

    async def put(self, folder_id, user):
        mode = self.body(("mode",)).get("mode", "rw")
        folder = await self.core(self.service.folders.grant, folder_id, self.user, user, mode)
        self.finish_json(folder.to_dict())

    async def delete(self, folder_id, user):
        folder = await self.core(self.service.folders.revoke, folder_id, self.user, user)
        log.info("%s cut %s off folder %s", self.user, user, folder_id)
        self.finish_json(folder.to_dict())


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"status": "ok"})


def make_app(service):
    p = service.prefix
    args = {"service": service}
    return web.Application(
        [
            *page_routes(f"{p}s/", PublicPage, BadLink, args),
            (rf"{p}api/shares", SharesHandler, args),
            (rf"{p}api/shares/with-me", WithMeHandler, args),
            (rf"{p}api/shares/with-me/({SHARE_ID})(/bundle)?", WithMeHandler, args),
            (rf"{p}api/shares/({SHARE_ID})", ShareHandler, args),
            (rf"{p}api/shares/({SHARE_ID})/refresh", RefreshHandler, args),
            (rf"{p}api/links/({TOKEN})(/bundle)?", LinkHandler, args),
            (rf"{p}api/shares/({SHARE_ID})/gallery", GalleryPublishHandler, args),
            (rf"{p}api/gallery", GalleryApiHandler, args),
            (rf"{p}api/gallery/({SHARE_ID})(/bundle)?", GalleryApiHandler, args),
            (rf"{p}api/gallery/({SHARE_ID})/hidden", GalleryHiddenHandler, args),
            (rf"{p}api/folders", FoldersHandler, args),
            (rf"{p}api/folders/({SHARE_ID})", FolderHandler, args),
            (rf"{p}api/folders/({SHARE_ID})/members/([^/]{{1,255}})", FolderMemberHandler, args),
            (rf"{p}gallery/?", GalleryPage, args),
            (rf"{p}gallery/({SHARE_ID})/?(?:(thumb\.png|raw))?", GalleryPage, args),
            (rf"{p}metrics", MetricsHandler),
            (rf"{p}(?:health)?", HealthHandler),  # the hub looks at the root to see the service is up
        ],
        log_function=_log_request,
        xsrf_cookies=False,
    )


def record_counts(store, folders):
    """What the service holds, for its metrics (service_metrics): shares by state, gallery entries,
    and live shared folders with their members."""
    now = time.time()
    with store.lock:
        rows = store.db.execute("SELECT revoked IS NOT NULL, expires IS NOT NULL AND expires < ? FROM shares", (now,))
        shares = {}
        for revoked, expired in rows.fetchall():
            state = ("revoked" if revoked else "expired" if expired else "active",)
            shares[state] = shares.get(state, 0) + 1
        gallery = dict(
            ((("hidden" if hidden else "published"),), n)
            for hidden, n in store.db.execute(
                "SELECT g.hidden_by IS NOT NULL, COUNT(*) FROM gallery g JOIN shares s ON s.id = g.share_id "
                "WHERE s.revoked IS NULL GROUP BY g.hidden_by IS NOT NULL"
            ).fetchall()
        )
    with folders.lock:
        live = {(state,): n for state, n in folders.db.execute("SELECT state, COUNT(*) FROM folders GROUP BY state")}
        members = {
            (mode,): n for mode, n in folders.db.execute("SELECT mode, COUNT(*) FROM folder_members GROUP BY mode")
        }
    yield "cygnet_hub_shares", "Share links in the hub's share service, by state", ["state"], shares
    yield "cygnet_gallery_entries", "Notebooks in the site's gallery, by visibility", ["visibility"], gallery
    yield "cygnet_live_folders", "Folders shared live, by state", ["state"], live
    yield "cygnet_live_folder_members", "Colleagues let into folders shared live, by access", ["mode"], members


def _log_request(handler):
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    log.log(level, "%d %s %.1fms", status, handler._request_summary(), 1000 * handler.request.request_time())


def main():
    """Run as the hub starts it: its address from $JUPYTERHUB_SERVICE_URL, its state from
    $CYGNET_SHARES_DB and $CYGNET_SHARES_URL (set by `cygnet hub`)."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s cygnet-shares] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubSecrets())
    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/cygnet-shares/")
    hub_base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    store = ShareStore(
        os.environ[contract.SHARES_DB.name],
        os.environ[contract.SHARES_URL.name],
        None,
        int(contract.SHARE_MAX_BYTES.get()),
    )
    folders = SharedFolders(os.environ[contract.SHARES_DB.name], contract.SHARED_FOLDERS_ROOT.get())
    service_metrics.register(lambda: record_counts(store, folders))
    app = make_app(Service(store, prefix, hub_base, folders=folders))
    app.listen(url.port or 80, contract.SHARES_BIND.get(), xheaders=True)
    log.info("serving shares on %s (under %s)", url.geturl(), prefix)
    stop_on_signals(log)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    sys.exit(main())
