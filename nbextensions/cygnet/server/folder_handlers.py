"""Live shared folders (cygnet.shares.live_folders) under /cygnet/api/folders: the owner shares a
workspace folder with named hub users, lets more in, cuts them off and stops sharing; every
member's session keeps its links and its files' access up to date (`start_sync`)."""

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.ioloop import PeriodicCallback

from cygnet.core.errors import Unavailable
from cygnet.shares.live_folders import LiveFolders

from . import session_access
from .handlers import CygnetHandler

FOLDER_ID = r"[0-9a-f]{16}"
USER = r"[^/]{1,255}"
NOT_HERE = "live shared folders need the hub's share service (this session was not started by a hub that has one)"


def open_live_folders(app, workspace):
    """The session's live folders when its shares go through the hub's service, else None."""
    client = app.shares
    if not hasattr(client, "folders"):
        return None
    return LiveFolders(client, workspace, app.cygnet.data_dir, session_access.owner())


def start_sync(app):
    """Ask the service every `Cygnet.shared_folders_interval` seconds (one round at a time)."""
    every = app.cygnet.shared_folders_interval
    if app.live_folders is None or every <= 0:
        return None
    running = False

    async def round_():
        nonlocal running
        if running:
            return
        running = True
        try:
            await app.work.quick(app.live_folders.sync, timeout=120)
        except Exception as e:  # noqa: BLE001 - the service may be restarting; the next round retries
            app.log.debug("cygnet: live shared folders not synced: %s", e)
        finally:
            running = False

    callback = PeriodicCallback(round_, every * 1000)
    callback.start()
    return callback


class FolderHandlerBase(CygnetHandler):
    def folders(self):
        live = self.extensionapp.live_folders
        if live is None:
            raise web.HTTPError(Unavailable.http_status, NOT_HERE)
        return live


class FoldersHandler(FolderHandlerBase):
    """GET /cygnet/api/folders: {space, available, why, folders}: the folders you share live and
    those shared with you (each linked at shared/<owner>/<name>). POST {path, users, mode?}: share a
    workspace folder live with named users, read-write ("rw", the default) or read-only ("ro")."""

    @web.authenticated
    @authorized
    async def get(self):
        self.finish_json(await self.run_core(self.folders().sync, timeout=120))

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(("path", "users", "mode"), required=("path", "users"))
        folder = await self.run_core(
            self.folders().share, body["path"], body["users"], body.get("mode", "rw"), timeout=600
        )
        self.set_status(201)
        self.finish_json(folder)


class FolderHandler(FolderHandlerBase):
    """DELETE /cygnet/api/folders/{id}: stop sharing (yours): colleagues are cut off at once and the
    folder comes back to its place in your workspace; answers where it is."""

    @web.authenticated
    @authorized
    async def delete(self, folder_id):
        path = await self.run_core(self.folders().stop, folder_id, timeout=600)
        self.finish_json({"id": folder_id, "path": path})


class FolderMemberHandler(FolderHandlerBase):
    """PUT /cygnet/api/folders/{id}/members/{user} {mode?}: let one more colleague in. DELETE: cut
    them off (at once; the link in their workspace goes at their session's next look)."""

    @web.authenticated
    @authorized
    async def put(self, folder_id, user):
        body = self.json_body(("mode",)) if self.request.body else {}
        self.finish_json(await self.run_core(self.folders().grant, folder_id, user, body.get("mode", "rw")))

    @web.authenticated
    @authorized
    async def delete(self, folder_id, user):
        self.finish_json(await self.run_core(self.folders().revoke, folder_id, user))


default_handlers = [
    ("/cygnet/api/folders", FoldersHandler),
    (rf"/cygnet/api/folders/({FOLDER_ID})", FolderHandler),
    (rf"/cygnet/api/folders/({FOLDER_ID})/members/({USER})", FolderMemberHandler),
]
