"""EOS over HTTP, for gateways and scripts (NEWT's "every resource a URL"): the user's XRootD home
under /cygnet/api/storage/.

- `GET /cygnet/api/storage/{path}`: a file's bytes, streamed, with `Range` requests answered
  206; `?list` (or a folder) answers its entries as JSON.
- `PUT /cygnet/api/storage/{path}`: the body, streamed to a local spool file, then copied to
  EOS under a temporary name and renamed into place (never half a file); folders are made.
- `DELETE /cygnet/api/storage/{path}`: a file or an empty folder.
Paths are confined to the user's home, as the EOS folder of the file browser is.
"""

import asyncio
import os
import re
import tempfile

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core.errors import BadInput, CygnetError, Unavailable, as_http_error
from cygnet.core.identity import current_user

from .handlers import CygnetHandler

CHUNK = 4 << 20  # bytes per read from XRootD while streaming a GET
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@web.stream_request_body
class StorageHandler(CygnetHandler):
    query_params = ("list",)

    async def prepare(self):
        self._spool = None
        ready = super().prepare()  # Jupyter's is a coroutine: it finds the user
        if ready is not None:
            await ready
        self._received = 0
        if self.request.method == "PUT":
            self._limit = self.extensionapp.cygnet.storage_http_max_bytes
            declared = int(self.request.headers.get("Content-Length") or 0)
            if declared > self._limit:
                raise web.HTTPError(413, f"the body is larger than this site's limit of {self._limit >> 20} MiB")
            self.request.connection.set_max_body_size(self._limit + 1)
            self._spool = tempfile.NamedTemporaryFile(prefix="cygnet-put-", delete=False)

    def data_received(self, chunk):
        if self._spool is None:
            return
        self._received += len(chunk)
        if self._received > self._limit:
            raise web.HTTPError(413, f"the body is larger than this site's limit of {self._limit >> 20} MiB")
        self._spool.write(chunk)

    def on_finish(self):
        self._drop_spool()

    def on_connection_close(self):
        self._drop_spool()

    def _drop_spool(self):
        if self._spool is not None:
            self._spool.close()
            os.unlink(self._spool.name)
            self._spool = None

    def _url(self, path):
        """The root:// URL of `path` under the user's home; 503 when the site has no EOS."""
        from cygnet.storage import xrootd

        config = self.extensionapp.cygnet
        if not config.storage_endpoint:
            raise as_http_error(Unavailable("this site has no storage endpoint (Cygnet.storage_endpoint)"))
        home = xrootd.home(config.storage_endpoint, config.storage_home, current_user())
        try:
            return xrootd.in_home(home, path, "your storage home")
        except BadInput as e:
            raise as_http_error(e) from e

    @web.authenticated
    @authorized
    async def get(self, path):
        from cygnet.storage import xrootd

        url = self._url(path)
        info = await self.run_core(xrootd.stat, url)
        if "list" in self.request.query_arguments or info["type"] == "directory":
            entries = await self.run_core(xrootd.ls, url)
            self.finish_json([{k: e[k] for k in ("name", "size", "mtime", "type")} for e in entries])
            return
        start, end = self._range(info["size"])
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Length", str(end - start))
        if (start, end) != (0, info["size"]):
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{info['size']}")
        handle = await self.run_core(xrootd.open_url, url, "rb")
        try:
            position = start
            while position < end:
                data = await self.run_core(_read_at, handle, position, min(CHUNK, end - position))
                if not data:
                    break
                self.write(data)
                await self.flush()
                position += len(data)
        finally:
            await self.run_core(handle.close)
        self.finish()

    def write_error(self, status_code, **kwargs):
        if status_code == 413:  # the rest of the body is never read: the client must not reuse this connection
            self.set_header("Connection", "close")
        if status_code == 416 and getattr(self, "_unsatisfiable", None) is not None:
            self.set_header("Content-Range", f"bytes */{self._unsatisfiable}")
        return super().write_error(status_code, **kwargs)

    def _range(self, size):
        header = self.request.headers.get("Range")
        if not header:
            return 0, size
        match = RANGE.match(header.strip())
        if not match or match.groups() == ("", ""):
            raise web.HTTPError(416, f"not a single byte range: {header[:100]}")
        first, last = match.groups()
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size
        else:
            start, end = int(first), min(size, int(last) + 1) if last else size
        if start >= size or start >= end:
            self._unsatisfiable = size  # write_error says the size (the error clears headers)
            raise web.HTTPError(416, f"the range {header[:100]} is outside the file's {size} bytes")
        return start, end

    @web.authenticated
    @authorized
    async def put(self, path):
        from cygnet.storage import xrootd

        url = self._url(path)
        if not path.strip("/"):
            raise as_http_error(BadInput("PUT needs a file path, not your home folder"))
        self._spool.flush()
        parent = url.rsplit("/", 1)[0]
        await self.run_core(xrootd.mkdir, parent)
        # The copy is long work: on the long pool, counted against the user's share of it.
        upload = self.start_long("this upload", xrootd.copy, self._spool.name, url)
        try:
            await asyncio.wrap_future(upload)
        except CygnetError as e:
            raise as_http_error(e) from e
        self.set_status(201)
        self.finish_json({"path": path.strip("/"), "size": self._received})

    @web.authenticated
    @authorized
    async def delete(self, path):
        from cygnet.storage import xrootd

        url = self._url(path)
        if not path.strip("/"):
            raise as_http_error(BadInput("your home folder cannot be deleted"))
        await self.run_core(xrootd.rm, url)
        self.set_status(204)
        self.finish()


def _read_at(handle, position, size):
    handle.seek(position)
    return handle.read(size)


default_handlers = [("/cygnet/api/storage/(.*)", StorageHandler)]
