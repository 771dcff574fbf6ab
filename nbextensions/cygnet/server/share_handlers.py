"""The owner's REST API of shares under /cygnet/api/shares (behind Jupyter's login and XSRF),
thin faces over the store of cygnet.shares; the public pages are in share_public."""

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from cygnet.core.identity import current_user
from cygnet.shares.store import share_link

from .handlers import CygnetHandler


def public_url(handler, token):
    """The page of a share: on the hub's share service when the store is there, else here."""
    base = handler.extensionapp.cygnet.link_base_url or f"{handler.public_origin()}{handler.base_url}"
    return share_link(handler.extensionapp.shares, token, base)


class SharesHandler(CygnetHandler):
    """GET /cygnet/api/shares[?path=P]: your shares. POST {path, expires_in?, users?}: a new one,
    with its token and URL (shown this once; only the token's hash is kept)."""

    query_params = ("path",)

    @web.authenticated
    @authorized
    async def get(self):
        path = self.argument("path")
        shares = await self.run_core(self.extensionapp.shares.list, current_user(), path)
        self.finish_json([s.to_dict() for s in shares])

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(("path", "expires_in", "users"), required=("path",))
        store = self.extensionapp.shares
        share, token = await self.run_core(
            store.create, body["path"], current_user(), body.get("expires_in"), body.get("users")
        )
        self.set_status(201)
        self.finish_json({**share.to_dict(), "token": token, "url": public_url(self, token)})


class SharesWithMeHandler(CygnetHandler):
    """GET /cygnet/api/shares/with-me: shares that name you, each with the link that copies it."""

    @web.authenticated
    @authorized
    async def get(self):
        shares = await self.run_core(self.extensionapp.shares.shared_with, current_user())
        open_url = url_path_join(self.base_url, "cygnet", "open")
        self.finish_json([{**s.to_dict(), "open_url": f"{open_url}?shared={s.id}"} for s in shares])


class ShareHandler(CygnetHandler):
    """GET /cygnet/api/shares/{id}: one of your shares. DELETE: revoke it."""

    @web.authenticated
    @authorized
    async def get(self, share_id):
        share = await self.run_core(self.extensionapp.shares.get, share_id, current_user())
        self.finish_json(share.to_dict())

    @web.authenticated
    @authorized
    async def delete(self, share_id):
        await self.run_core(self.extensionapp.shares.revoke, share_id, current_user())
        self.set_status(204)
        self.finish()


class ShareRefreshHandler(CygnetHandler):
    """POST /cygnet/api/shares/{id}/refresh: snapshot the original again; the link then shows it."""

    @web.authenticated
    @authorized
    async def post(self, share_id):
        share = await self.run_core(self.extensionapp.shares.refresh, share_id, current_user())
        self.finish_json(share.to_dict())


class ShareGalleryHandler(CygnetHandler):
    """POST /cygnet/api/shares/{id}/gallery {title?, description?}: publish your notebook share to
    the site's gallery (the hub's); DELETE: unpublish it."""

    @web.authenticated
    @authorized
    async def post(self, share_id):
        body = self.json_body(("title", "description"))
        entry = await self.run_core(
            self.extensionapp.shares.publish, share_id, body.get("title"), body.get("description")
        )
        self.set_status(201)
        self.finish_json(entry)

    @web.authenticated
    @authorized
    async def delete(self, share_id):
        await self.run_core(self.extensionapp.shares.unpublish, share_id)
        self.set_status(204)
        self.finish()


SHARE_ID = r"[0-9a-f]{16}"
default_handlers = [
    ("/cygnet/api/shares", SharesHandler),
    ("/cygnet/api/shares/with-me", SharesWithMeHandler),
    (rf"/cygnet/api/shares/({SHARE_ID})", ShareHandler),
    (rf"/cygnet/api/shares/({SHARE_ID})/refresh", ShareRefreshHandler),
    (rf"/cygnet/api/shares/({SHARE_ID})/gallery", ShareGalleryHandler),
]
