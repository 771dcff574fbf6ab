"""The file browser on EOS: a contents manager that shows the user's XRootD home as the folder
`EOS/` at the top of the workspace, beside the local files it serves as usual.

Everything under `EOS/` is read and written through `cygnet.storage.xrootd`: saves go to a
temporary name and are renamed into place, so a notebook saved from JupyterLab is never left
half-written on EOS. A file on EOS has its checkpoint on EOS too, in `.ipynb_checkpoints/` of its
folder, as Jupyter keeps local ones.

Enabled when `Cygnet.storage_endpoint` is set and the site has not chosen its own
`ServerApp.contents_manager_class`.
"""

import mimetypes
import posixpath
from datetime import UTC, datetime

import nbformat
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web

from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput, CygnetError, NotFound, as_http_error
from cygnet.core.identity import current_user
from cygnet.storage import xrootd

MOUNT = "EOS"
CHECKPOINTS = ".ipynb_checkpoints"  # the folder Jupyter's own checkpoints use
CHECKPOINT_ID = "checkpoint"


class EOSContentsManager(AsyncLargeFileManager):
    def _home(self):
        config = Cygnet(parent=self.parent)
        return xrootd.home(config.storage_endpoint, config.storage_home, current_user())

    @staticmethod
    def _on_eos(path):
        path = path.strip("/")
        return path == MOUNT or path.startswith(MOUNT + "/")

    def _url(self, path):
        """The root:// URL of a path under EOS/: confined to the user's home like workspace paths."""
        rel = path.strip("/")[len(MOUNT) :].strip("/")
        try:
            return xrootd.in_home(self._home(), rel, f"{MOUNT}/")
        except BadInput as e:
            raise as_http_error(e) from None

    async def _call(self, function, *args):
        """XRootD work on the server's quick pool, its errors mapped the one way (each XRootD
        request has its own time limit; the pool's is for a whole file)."""
        try:
            return await self.parent.web_app.settings["cygnet"].work.quick(function, *args, timeout=600)
        except CygnetError as e:
            raise as_http_error(e) from None

    # --- reading ---------------------------------------------------------------------------------------
    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        if not self._on_eos(path):
            model = await super().get(path, content, type, format, require_hash)
            if path.strip("/") == "" and content and model.get("content") is not None:
                model["content"] = [m for m in model["content"] if m["name"] != MOUNT] + [self._mount_model()]
            return model
        path = path.strip("/")
        info = await self._call(xrootd.stat, self._url(path))
        if info["type"] == "directory":
            model = self._model(path, info, "directory")
            if content:
                entries = await self._call(xrootd.ls, self._url(path))
                model["content"] = [
                    self._model(posixpath.join(path, e["name"]), e, None)
                    for e in entries
                    if xrootd.TEMP_MARK not in e["name"] and (self.allow_hidden or not e["name"].startswith("."))
                ]
                model["format"] = "json"
            return model
        kind = type or ("notebook" if path.endswith(".ipynb") else "file")
        model = self._model(path, info, kind)
        if content:
            data = await self._call(self._read, self._url(path))
            if kind == "notebook":
                notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
                self.mark_trusted_cells(notebook, path)
                model.update(content=notebook, format="json")
                self.validate_notebook_model(model)
            elif format == "base64" or (format is None and not _is_text(data)):
                import base64

                model.update(
                    content=base64.b64encode(data).decode("ascii"),
                    format="base64",
                    mimetype=model["mimetype"] or "application/octet-stream",
                )
            else:
                model.update(content=data.decode("utf-8"), format="text", mimetype=model["mimetype"] or "text/plain")
        return model

    @staticmethod
    def _read(url):
        with xrootd.open_url(url, "rb") as f:
            return f.read()

    def _mount_model(self):
        return {
            "name": MOUNT,
            "path": MOUNT,
            "type": "directory",
            "created": _now(),
            "last_modified": _now(),
            "content": None,
            "format": None,
            "mimetype": None,
            "writable": True,
            "size": None,
            "hash": None,
            "hash_algorithm": None,
        }

    def _model(self, path, info, kind):
        kind = kind or (
            "directory" if info["type"] == "directory" else "notebook" if path.endswith(".ipynb") else "file"
        )
        when = datetime.fromtimestamp(info["mtime"], tz=UTC)
        return {
            "name": posixpath.basename(path),
            "path": path,
            "type": kind,
            "created": when,
            "last_modified": when,
            "content": None,
            "format": None,
            "writable": True,
            "hash": None,
            "hash_algorithm": None,
            "mimetype": None if kind != "file" else mimetypes.guess_type(path)[0],
            "size": info["size"] if kind != "directory" else None,
        }

    async def file_exists(self, path):
        if not self._on_eos(path):
            return await super().file_exists(path)
        return await self._kind(path) == "file"

    async def dir_exists(self, path):
        if not self._on_eos(path):
            return await super().dir_exists(path)
        return path.strip("/") == MOUNT or await self._kind(path) == "directory"

    def exists(self, path):
        if not self._on_eos(path):
            return super().exists(path)
        return self._kind_now(path) is not None

    async def is_hidden(self, path):
        return False if self._on_eos(path) else await super().is_hidden(path)

    async def _kind(self, path):
        return await self._call(self._kind_now, path)

    def _kind_now(self, path):
        try:
            return xrootd.stat(self._url(path))["type"]
        except NotFound:
            return None

    # --- writing ---------------------------------------------------------------------------------------
    async def save(self, model, path=""):
        if not self._on_eos(path):
            return await super().save(model, path)
        path = path.strip("/")
        if path == MOUNT:
            raise web.HTTPError(400, "the EOS folder itself cannot be replaced")
        url = self._url(path)
        kind = model.get("type")
        if kind == "directory":
            await self._call(xrootd.mkdir, url)
        else:
            if "content" not in model:
                raise web.HTTPError(400, "no file content")
            if kind == "notebook":
                notebook = nbformat.from_dict(model["content"])
                self.check_and_sign(notebook, path)
                data = nbformat.writes(notebook, version=nbformat.NO_CONVERT).encode("utf-8")
            elif model.get("format") == "base64":
                import base64

                data = base64.b64decode(model["content"])
            else:
                data = model["content"].encode("utf-8")
            await self._call(self._write, url, data)
        return await self.get(path, content=False)

    @staticmethod
    def _write(url, data):
        with xrootd.open_url(url, "wb") as f:  # a temporary name, renamed into place on close
            f.write(data)

    async def delete_file(self, path):
        if not self._on_eos(path):
            return await super().delete_file(path)
        if path.strip("/") == MOUNT:
            raise web.HTTPError(400, "the EOS folder itself cannot be deleted")
        await self._call(xrootd.rm, self._url(path))

    async def rename_file(self, old_path, new_path):
        if not (self._on_eos(old_path) or self._on_eos(new_path)):
            return await super().rename_file(old_path, new_path)
        if not (self._on_eos(old_path) and self._on_eos(new_path)) or MOUNT in (
            old_path.strip("/"),
            new_path.strip("/"),
        ):
            raise web.HTTPError(400, "files move within EOS/ only; copy them between EOS and the workspace")
        _, new = xrootd.parse_url(self._url(new_path))
        await self._call(xrootd.rename, self._url(old_path), new)

    # --- checkpoints: on EOS beside the file, as Jupyter keeps them locally --------------------------
    # `.ipynb_checkpoints/<name>-checkpoint<ext>` in the file's folder, one per file (id "checkpoint").
    def _checkpoint_url(self, path):
        folder, name = posixpath.split(path.strip("/"))
        stem, ext = posixpath.splitext(name)
        return self._url(posixpath.join(folder, CHECKPOINTS, f"{stem}-checkpoint{ext}"))

    async def create_checkpoint(self, path):
        if not self._on_eos(path):
            return await super().create_checkpoint(path)
        data = await self._call(self._read, self._url(path))
        target = self._checkpoint_url(path)
        await self._call(self._write, target, data)
        return await self._checkpoint_model(target)

    async def list_checkpoints(self, path):
        if not self._on_eos(path):
            return await super().list_checkpoints(path)
        try:
            return [await self._checkpoint_model(self._checkpoint_url(path))]
        except web.HTTPError as e:
            if e.status_code == 404:
                return []
            raise

    async def restore_checkpoint(self, checkpoint_id, path):
        if not self._on_eos(path):
            return await super().restore_checkpoint(checkpoint_id, path)
        await self._call(self._write, self._url(path), await self.read_checkpoint(checkpoint_id, path))

    async def delete_checkpoint(self, checkpoint_id, path):
        if not self._on_eos(path):
            return await super().delete_checkpoint(checkpoint_id, path)
        try:
            await self._call(xrootd.rm, self._checkpoint_url(path))
        except web.HTTPError as e:
            if e.status_code != 404:
                raise

    async def read_checkpoint(self, checkpoint_id, path):
        """The bytes of a checkpoint of `path`, a file under EOS/."""
        if checkpoint_id != CHECKPOINT_ID:
            raise web.HTTPError(404, f"{path} has no checkpoint {checkpoint_id!r}")
        return await self._call(self._read, self._checkpoint_url(path))

    async def _checkpoint_model(self, url):
        info = await self._call(xrootd.stat, url)
        return {"id": CHECKPOINT_ID, "last_modified": datetime.fromtimestamp(info["mtime"], tz=UTC)}


def _now():
    return datetime.now(tz=UTC)


def _is_text(data):
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
