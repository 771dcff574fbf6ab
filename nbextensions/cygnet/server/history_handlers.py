"""REST faces of a file's history: its Jupyter checkpoints and the versions the box keeps of it
(cygnet.storage.history), a diff between any two, and restoring one.

A version is named `current`, `checkpoint:<id>` or `box:<id>`. Restoring first saves the current
file as a checkpoint, so a restore can itself be undone, then saves the version through the
contents manager: open browsers (and co-editors) see the file change.
"""

import base64
import json

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core import checks
from cygnet.core.errors import BadInput, NotFound, as_http_error
from cygnet.core.identity import current_user
from cygnet.core.paths import confine
from cygnet.storage import history

from .handlers import CygnetHandler


class _History(CygnetHandler):
    co_editors = True  # a co-editor edits the files anyway; their history is theirs to see

    async def file_path(self, path):
        """`path` checked: a file of the workspace (or of the EOS folder of the file browser)."""
        cm = self.contents_manager
        if getattr(cm, "_on_eos", lambda p: False)(path):
            if not await ensure_async(cm.file_exists(path)):
                raise web.HTTPError(404, f"{path!r} is not a file on EOS")
            return path.strip("/")
        try:
            target = confine(self.extensionapp.sync_jobs.workspace, path)
        except BadInput as e:
            raise as_http_error(e) from e
        if not path or not target.is_file():
            raise web.HTTPError(404, f"{path!r} is not a file of the workspace")
        return path.strip("/")

    def box_places(self, path):
        jobs = self.extensionapp.sync_jobs.list(current_user())
        return history.places(jobs, path)

    async def version_bytes(self, path, ref):
        """The bytes of one version of `path` (`current`, `checkpoint:<id>` or `box:<id>`)."""
        source, _, version_id = ref.partition(":")
        cm = self.contents_manager
        if source == "current" and not version_id:
            model = await ensure_async(cm.get(path, content=True))
            return _model_bytes(model)
        if source == "checkpoint" and version_id:
            known = await ensure_async(cm.list_checkpoints(path))
            if version_id not in {c["id"] for c in known}:
                raise web.HTTPError(404, f"{path} has no checkpoint {version_id!r}")
            if getattr(cm, "_on_eos", lambda p: False)(path):  # Cygnet's EOS folder: checkpoints on EOS
                return await cm.read_checkpoint(version_id, path)
            return await _checkpoint_bytes(cm.checkpoints, version_id, path)
        if source == "box" and version_id:
            box_url = self.extensionapp.sync_jobs.box_url
            where = await self.run_core(self.box_places, path)
            return await self.run_core(history.read_box_version, box_url, where, version_id, timeout=120)
        raise web.HTTPError(400, f"a version is current, checkpoint:<id> or box:<id>, not {ref!r}")


class HistoryHandler(_History):
    """GET /cygnet/api/history?path=P: the file's versions, newest first: its checkpoints
    ({source: checkpoint, id, when}) and the box's ({source: box, id, when, size, where})."""

    query_params = ("path",)

    @web.authenticated
    @authorized
    async def get(self):
        path = await self.file_path(self.argument("path", ""))
        checkpoints = await ensure_async(self.contents_manager.list_checkpoints(path))
        found = [{"source": "checkpoint", "id": c["id"], "when": _iso(c["last_modified"])} for c in checkpoints]
        box_url = self.extensionapp.sync_jobs.box_url
        where = await self.run_core(self.box_places, path)
        try:
            kept = await self.run_core(history.box_versions, box_url, where, timeout=120)
        except (NotFound, web.HTTPError):
            kept = []
        found += [{"source": "box", **v} for v in kept]
        found.sort(key=lambda v: v["when"], reverse=True)
        self.finish_json({"path": path, "versions": found})


class HistoryDiffHandler(_History):
    """GET /cygnet/api/history/diff?path=P&a=VERSION[&b=VERSION]: {diff} between two versions
    (b: current by default): nbdime's for notebooks, a unified diff for text."""

    query_params = ("path", "a", "b")

    @web.authenticated
    @authorized
    async def get(self):
        path = await self.file_path(self.argument("path", ""))
        a, b = self.argument("a", ""), self.argument("b", "") or "current"
        if not a:
            raise web.HTTPError(400, "a is required: the version to compare (checkpoint:<id> or box:<id>)")
        old, new = await self.version_bytes(path, a), await self.version_bytes(path, b)
        text = await self.run_core(history.diff_text, path, old, new, a, b)
        self.finish_json({"path": path, "a": a, "b": b, "diff": text})


class HistoryRestoreHandler(_History):
    """POST /cygnet/api/history/restore {path, version}: the current file kept as a checkpoint,
    then the version saved in its place. Answers the new checkpoint."""

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_value()
        try:
            body = checks.body(body, ("path", "version"), required=("path", "version"))
            ref = checks.text(body["version"], "version")
            path = checks.text(body["path"], "path")
        except BadInput as e:
            raise as_http_error(e) from e
        path = await self.file_path(path)
        if ref == "current":
            raise web.HTTPError(400, "the current version is already the file")
        data = await self.version_bytes(path, ref)  # read first: the new checkpoint may take its place
        cm = self.contents_manager
        checkpoint = await ensure_async(cm.create_checkpoint(path))
        model = _bytes_model(path, data)
        # An open document (real-time collaboration) takes the version first: its next save then
        # writes the version, never the content it had (a save under way would otherwise put
        # that back over the file just written).
        await _set_open_document(self.serverapp, path, model)
        await ensure_async(cm.save(model, path))
        self.log.info("cygnet: %s restored from %s", path, ref)
        self.finish_json(
            {
                "path": path,
                "restored": ref,
                "checkpoint": {"id": checkpoint["id"], "when": _iso(checkpoint["last_modified"])},
            }
        )


async def _set_open_document(serverapp, path, model):
    """The version as the content of the file's shared document, if collaboration has it open."""
    point = serverapp.extension_manager.extension_points.get("jupyter_server_ydoc")
    collaboration = point.app if point is not None else None
    if collaboration is None or getattr(collaboration, "disable_rtc", True) or model["format"] == "base64":
        return
    content_type = "notebook" if model["type"] == "notebook" else "file"
    file_format = "json" if model["type"] == "notebook" else "text"
    try:
        document = await collaboration.get_document(
            path=path, content_type=content_type, file_format=file_format, copy=False
        )
    except Exception as e:  # noqa: BLE001 - the file on disk is restored anyway; browsers reload it
        serverapp.log.warning("cygnet: the open document of %s was not updated: %s", path, e)
        return
    if document is not None:
        document.set(model["content"])


async def _checkpoint_bytes(checkpoints, checkpoint_id, path):
    """A checkpoint's bytes: the file itself for Jupyter's file checkpoints (a copy beside the
    file), else through the generic checkpoint API (checkpoints kept elsewhere)."""
    if hasattr(checkpoints, "checkpoint_path"):
        with open(checkpoints.checkpoint_path(checkpoint_id, path), "rb") as f:
            return f.read()
    if path.endswith(".ipynb"):
        model = await ensure_async(checkpoints.get_notebook_checkpoint(checkpoint_id, path))
    else:
        model = await ensure_async(checkpoints.get_file_checkpoint(checkpoint_id, path))
    return _model_bytes(model)


def _model_bytes(model):
    content = model["content"]
    if model.get("type") == "notebook":
        import nbformat

        return nbformat.writes(nbformat.from_dict(content)).encode()
    if model.get("format") == "base64":
        return base64.b64decode(content)
    return content.encode() if isinstance(content, str) else bytes(content)


def _bytes_model(path, data):
    if path.endswith(".ipynb"):
        try:
            return {"type": "notebook", "format": "json", "content": json.loads(data)}
        except ValueError:
            raise web.HTTPError(400, "that version is not a readable notebook") from None
    try:
        return {"type": "file", "format": "text", "content": data.decode()}
    except UnicodeDecodeError:
        return {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}


def _iso(when):
    return when.isoformat() if hasattr(when, "isoformat") else str(when)


default_handlers = [
    ("/cygnet/api/history", HistoryHandler),
    ("/cygnet/api/history/diff", HistoryDiffHandler),
    ("/cygnet/api/history/restore", HistoryRestoreHandler),
]
