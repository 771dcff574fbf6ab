"""Live shared folders (cygnet.shares.live_folders) under /cygnet/api/folders: the owner shares a
workspace folder with named hub users, lets more in, cuts them off and stops sharing; every
member's session keeps its links and its files' access up to date (`start_sync`)."""

from urllib.parse import urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

from cygnet.core.errors import CygnetError, Unavailable, as_http_error
from cygnet.shares.live_folders import LINKS, LiveFolders

from . import session_access
from .handlers import CygnetHandler, hub_redirect_path
from .work import every

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
    if app.live_folders is None:
        return None

    async def round_():
        try:
            await app.work.quick(app.live_folders.sync, timeout=120)
        except Exception as e:  # noqa: BLE001 - the service may be restarting; the next round retries
            app.log.debug("cygnet: live shared folders not synced: %s", e)

    return every(app.cygnet.shared_folders_interval, round_)


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


class OwnKernelHandler(FolderHandlerBase):
    """GET /cygnet/api/folders/own-kernel?path=P, for a colleague this session is shared with: where
    their own session opens the notebook P with their own kernel (their view, Spark and Kerberos
    ticket), when P is in a folder the owner shares live with them; 404 (saying what to ask the
    owner) when it is not. The document stays one file, in the folder both work in."""

    co_editors = True
    query_params = ("path",)

    @web.authenticated
    @authorized
    async def get(self):
        path = self.argument("path") or ""
        if not session_access.is_co_editor(self):
            raise web.HTTPError(400, "this is your own session: its kernels run as you already")
        you, owner = session_access.user_name(self), session_access.owner()
        there = await self.run_core(self.folders().colleague_path, path, you)
        if there is None:
            raise web.HTTPError(
                404,
                f"{path} is not in a folder {owner} shares live with you: ask {owner} to share its folder "
                "with you (Share Folder Live…), and your own session opens it with your own kernel",
            )
        opener = url_path_join(hub_redirect_path() or self.base_url, "cygnet", "folders", "open")
        self.finish_json({"path": there, "url": f"{opener}?{urlencode({'path': there})}"})


class OpenSharedHandler(ExtensionHandlerMixin, JupyterHandler):
    """GET /cygnet/folders/open?path=shared/<owner>/<name>/...: this session looks at what is
    shared with its user now (so a folder shared a moment ago is linked), then opens the path in
    JupyterLab. The page an *Open My Own Kernel* link lands on, through the hub's user-redirect."""

    auth_resource = "cygnet"

    @web.authenticated
    @authorized
    async def get(self):
        session_access.check_owner(self, "this page")
        path = self.get_argument("path", "")
        live = self.extensionapp.live_folders
        if live is None:
            raise web.HTTPError(Unavailable.http_status, NOT_HERE)
        if not path.startswith(LINKS + "/") or ".." in path.split("/") or len(path) > 4096:
            raise web.HTTPError(400, f"path must lead into {LINKS}/, where folders shared with you are")
        try:
            await self.extensionapp.work.quick(live.sync, timeout=120)
        except CygnetError as e:
            raise as_http_error(e) from e
        self.redirect(url_path_join(self.base_url, "lab", "tree", url_escape(path)))


default_handlers = [
    ("/cygnet/api/folders", FoldersHandler),
    ("/cygnet/api/folders/own-kernel", OwnKernelHandler),
    ("/cygnet/folders/open", OpenSharedHandler),
    (rf"/cygnet/api/folders/({FOLDER_ID})", FolderHandler),
    (rf"/cygnet/api/folders/({FOLDER_ID})/members/({USER})", FolderMemberHandler),
]
