"""EOS-style storage over XRootD (root://host[:port]//path), on the XRootD client's Python
bindings: files to read and write, listings, stat, mkdir, rm, and parallel chunked copies.

Every call has a timeout (no hang on a dead server), idempotent ones are retried on lost
connections, and errors name the URL and the cause. Writes go to a temporary name next to the
target and are renamed into place when complete: a reader, or a crash, never leaves a partial
file under the final name.
"""

import functools
import io
import os
import posixpath
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from cygnet.core import kerberos
from cygnet.core.atomic import PARTIAL_MARK as TEMP_MARK
from cygnet.core.atomic import partial_name
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable

SCHEMES = ("root", "xroot", "roots", "xroots")  # of XRootD URLs

CHUNK = 8 << 20  # 8 MiB: the rate of a raw 8 MiB-chunk read loop (see bench/xrootd_io.py)
IN_FLIGHT = 4  # chunks requested at once by whole reads and copies
TIMEOUT = 60  # seconds per request
ATTEMPTS = 2  # a lost connection is tried once more
_NOT_FOUND, _NOT_AUTHORIZED, _ALREADY = 3011, 3010, 3018
_AUTH_FAILED = 204  # XrdCl's errAuthFailed


# The client's own connection retries would wait minutes for a dead server, and after a crash it
# would refuse that server for 30 min (stream error window): bound both (a
# site's own XRD_* settings win). Read once, when the library loads.
CLIENT_DEFAULTS = {
    "XRD_CONNECTIONWINDOW": "5",
    "XRD_CONNECTIONRETRY": "1",
    "XRD_REQUESTTIMEOUT": "60",
    "XRD_STREAMTIMEOUT": "30",
    "XRD_STREAMERRORWINDOW": "0",
}


@functools.cache  # once per process
def _keep_chunk_memory():
    """Each read allocates a fresh CHUNK-sized buffer (the client's, then Python's bytes). With
    glibc's defaults these come from mmap or a trimmed heap, so every chunk pays its page faults
    again: a plain read loop ran at 350 MiB/s instead of 900 (bench/xrootd_io.py). Serving them
    from a heap that is not trimmed below 64 MiB keeps that memory in use, chunk after chunk.
    A site's own MALLOC_* settings win; other C libraries are left alone."""
    if any(key.startswith("MALLOC_") for key in os.environ):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2 * CHUNK)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _client():
    for key, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    _keep_chunk_memory()
    try:
        from XRootD import client
        from XRootD.client import flags
    except ImportError:
        raise Unavailable("the XRootD client is not installed here (pip install xrootd)") from None
    return client, flags


def parse_url(url):
    """('root://host:port', '/path') of a root:// URL; BadInput if it is not one."""
    if not isinstance(url, str) or any(ord(c) < 32 for c in url):
        raise BadInput(f"not an XRootD URL: {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise BadInput(f"not an XRootD URL (root://host//path): {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise BadInput(f"bad port in {url!r}") from None
    path = "/" + parts.path.lstrip("/")
    if ".." in path.split("/"):
        raise BadInput(f"'..' is not allowed in {url!r}")
    return f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}", posixpath.normpath(path)


def join(server, path):
    return f"{server}/{path}"


def _check(status, url, what):
    if status.ok:
        return
    message = re.sub(r"^\[(ERROR|FATAL)\]\s*", "", status.message).strip()
    if status.code == _AUTH_FAILED:  # the client's own verdict: no protocol it has was accepted
        raise kerberos.refused(url)
    if status.errno == _NOT_FOUND:
        raise NotFound(f"{url}: no such file or folder")
    if status.errno == _NOT_AUTHORIZED:
        raise Unavailable(f"{url}: permission denied ({message})")
    if status.errno == _ALREADY:
        raise BadInput(f"{url}: already exists")
    if status.errno:
        raise Unavailable(f"{what} {url} failed: {message}")
    raise _Lost(f"{what} {url} failed: the server did not answer ({message})")


class _Lost(Unavailable):
    """No answer: a connection refused, lost or timed out. Worth another try."""


def retried(step):
    """Run `step`, once more if the server did not answer (`step` must be safe to repeat)."""
    for attempt in range(ATTEMPTS):
        try:
            return step()
        except _Lost:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _fs(server):
    client, _ = _client()
    return client.FileSystem(server)


# --- names and folders ---------------------------------------------------------------------------------------
def stat(url, timeout=TIMEOUT):
    """{'name', 'size', 'mtime', 'type'} of a file or folder."""
    server, path = parse_url(url)
    _, flags = _client()

    def step():
        status, info = _fs(server).stat(path, timeout=timeout)
        _check(status, url, "stat of")
        return info

    info = retried(step)
    is_dir = bool(info.flags & flags.StatInfoFlags.IS_DIR)
    return {
        "name": posixpath.basename(path) or "/",
        "url": join(server, path),
        "size": info.size,
        "mtime": info.modtime,
        "type": "directory" if is_dir else "file",
    }


def ls(url, timeout=TIMEOUT):
    """The entries of a folder, with size, mtime and type, sorted by name."""
    server, path = parse_url(url)
    _, flags = _client()

    def step():
        status, listing = _fs(server).dirlist(path, flags.DirListFlags.STAT, timeout=timeout)
        _check(status, url, "listing of")
        return listing

    entries = []
    for entry in retried(step):
        info = entry.statinfo
        is_dir = bool(info.flags & flags.StatInfoFlags.IS_DIR)
        entries.append(
            {
                "name": entry.name,
                "url": join(server, posixpath.join(path, entry.name)),
                "size": info.size,
                "mtime": info.modtime,
                "type": "directory" if is_dir else "file",
            }
        )
    return sorted(entries, key=lambda e: e["name"])


def mkdir(url, parents=True, timeout=TIMEOUT):
    server, path = parse_url(url)
    _, flags = _client()
    mode = flags.MkDirFlags.MAKEPATH if parents else flags.MkDirFlags.NONE
    status, _ = _fs(server).mkdir(path, mode, timeout=timeout)
    if status.errno == _ALREADY and parents:
        return
    _check(status, url, "mkdir of")


def rm(url, timeout=TIMEOUT):
    """Delete a file (or an empty folder)."""
    server, path = parse_url(url)
    fs = _fs(server)
    if stat(url, timeout)["type"] == "directory":
        status, _ = fs.rmdir(path, timeout=timeout)
    else:
        status, _ = fs.rm(path, timeout=timeout)
    _check(status, url, "delete of")


def rename(url, new_path, timeout=TIMEOUT):
    server, path = parse_url(url)
    status, _ = _fs(server).mv(path, new_path, timeout=timeout)
    _check(status, url, "rename of")


# --- files ---------------------------------------------------------------------------------------------------
class XRootDFile(io.RawIOBase):
    """A file on an XRootD server. Reading: big chunks, and whole reads with several chunks in
    flight. Writing: to a temporary name, renamed into place by close(); abort() (or an error
    inside a `with`) removes it instead."""

    def __init__(self, url, mode="rb", timeout=TIMEOUT):
        super().__init__()
        if mode not in ("rb", "wb"):
            raise BadInput(f"XRootD files open as 'rb' or 'wb' (text through io.TextIOWrapper), not {mode!r}")
        client, flags = _client()
        self.url, self.mode, self.timeout = url, mode, timeout
        self.server, self.path = parse_url(url)
        self.pos = 0
        self._file = client.File()
        if mode == "rb":
            target, how = self.path, flags.OpenFlags.READ
        else:
            folder, name = posixpath.split(self.path)
            target = posixpath.join(folder, partial_name(name))
            how = flags.OpenFlags.NEW | flags.OpenFlags.MAKEPATH
        self._target = target
        status, _ = retried(lambda: self._open(join(self.server, target), how))
        if mode == "rb":
            status, info = self._file.stat(timeout=timeout)
            _check(status, url, "stat of")
            self.size = info.size

    def _open(self, url, how):
        result = self._file.open(url, how, timeout=self.timeout)
        _check(result[0], self.url, "open of")
        return result

    def readable(self):
        return self.mode == "rb"

    def writable(self):
        return self.mode == "wb"

    def seekable(self):
        return self.mode == "rb"

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: getattr(self, "size", self.pos)}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self):
        return self.pos

    def read(self, size=-1):
        """Up to `size` bytes (the rest if negative), straight from the client: no extra copy."""
        if size is None or size < 0:
            return self.readall()
        data = self._read_at(self.pos, min(size, max(0, self.size - self.pos), 1 << 30)) if size else b""
        self.pos += len(data)
        return data

    def readinto(self, buffer):
        data = self._read_at(self.pos, min(len(buffer), CHUNK))
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def readall(self):
        """The rest of the file, read with IN_FLIGHT chunks requested at once."""
        start, end = self.pos, self.size
        if end <= start:
            return b""
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            parts = list(
                pool.map(lambda offset: self._read_at(offset, min(CHUNK, end - offset)), range(start, end, CHUNK))
            )
        self.pos = end
        return b"".join(parts)

    def read_ranges(self, ranges):
        """Several (offset, length) pieces in one vector read (uproot-style random access)."""
        status, result = self._call(self._file.vector_read, chunks=list(ranges))
        _check(status, self.url, "vector read of")
        return [chunk.buffer for chunk in result.chunks]

    def _read_at(self, offset, size):
        def step():
            status, data = self._call(self._file.read, offset, size)
            _check(status, self.url, "read of")
            return data

        return retried(step)

    def _call(self, method, *args, **kwargs):
        """A request on the open file; the bindings raise ValueError once a lost connection closed it."""
        try:
            return method(*args, timeout=self.timeout, **kwargs)
        except ValueError as e:
            raise Unavailable(f"{self.url}: the connection to the server was lost ({e})") from None

    def write(self, data):
        status, _ = self._call(self._file.write, bytes(data), self.pos)
        _check(status, self.url, "write of")
        self.pos += len(data)
        return len(data)

    def write_at(self, offset, data):
        status, _ = self._call(self._file.write, bytes(data), offset)
        _check(status, self.url, "write of")

    def close(self):
        if self.closed:
            return
        try:
            status, _ = self._file.close(timeout=self.timeout)
            if self.mode == "wb":
                _check(status, self.url, "close of")
                _check(_fs(self.server).mv(self._target, self.path, timeout=self.timeout)[0], self.url, "rename to")
        except BaseException:
            self.abort()
            raise
        finally:
            super().close()

    def abort(self):
        """Give up a write: remove the temporary file, leave the target as it was."""
        try:
            self._file.close(timeout=5)
        except Exception:  # noqa: BLE001 - best effort
            pass
        if self.mode == "wb":
            try:
                _fs(self.server).rm(self._target, timeout=10)
            except Exception:  # noqa: BLE001 - a leftover temporary name is swept by the next copy
                pass
        super().close()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.mode == "wb":
            self.abort()
        else:
            self.close()


def open_url(url, mode="rb", timeout=TIMEOUT):
    """A file object on `url`: binary ('rb', 'wb') or text ('r', 'w')."""
    binary = mode if mode.endswith("b") else mode + "b"
    raw = XRootDFile(url, binary, timeout)
    if mode.endswith("b"):
        return raw
    return io.TextIOWrapper(io.BufferedReader(raw, CHUNK) if binary == "rb" else _Writer(raw), encoding="utf-8")


class _Writer(io.BufferedWriter):
    def __init__(self, raw):
        super().__init__(raw, CHUNK)


# --- copies --------------------------------------------------------------------------------------------------
def copy(src, dst, parallel=IN_FLIGHT, progress=None, timeout=TIMEOUT, sweep=True):
    """Copy one file between root:// URLs and local paths (any direction), `parallel` chunks in
    flight, into a temporary name renamed at the end. Returns the bytes copied; `progress(done,
    total)` is called as chunks land. An interrupted copy leaves nothing under `dst` and can be
    re-run; with `sweep`, a remote copy then lists the folder to remove what earlier interrupted
    copies of `dst` left (the box skips this: it sweeps a crashed sync's leftovers once)."""
    parallel = max(1, int(parallel))
    remote_src, remote_dst = is_url(src), is_url(dst)
    total = stat(src, timeout)["size"] if remote_src else _local_size(src)
    done, lock = [0], threading.Lock()

    def advance(n):
        with lock:
            done[0] += n
            if progress:
                progress(done[0], total)

    reader = XRootDFile(src, "rb", timeout) if remote_src else open(src, "rb")
    try:
        if remote_dst:
            writer = XRootDFile(dst, "wb", timeout)
            put = writer.write_at
        else:
            tmp = _local_temp(dst)
            writer = open(tmp, "wb")
            writer.truncate(total)
            fd = writer.fileno()

            def put(offset, data):
                os.pwrite(fd, data, offset)

        try:

            def one(offset):
                size = min(CHUNK, total - offset)
                data = reader._read_at(offset, size) if remote_src else os.pread(reader.fileno(), size, offset)
                if len(data) != size:
                    raise Unavailable(f"{src} changed while it was copied")
                put(offset, data)
                advance(size)

            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(one, range(0, total, CHUNK)))
        except BaseException:
            if remote_dst:
                writer.abort()
            else:
                writer.close()
                os.unlink(tmp)
            raise
        if remote_dst:
            writer.close()
            if sweep:
                _sweep_partials(dst, timeout)
        else:
            writer.close()
            os.replace(tmp, dst)
    finally:
        reader.close()
    return total


def _sweep_partials(url, timeout):
    """Remove what earlier interrupted writes of `url` left (their temporary names)."""
    server, path = parse_url(url)
    folder, name = posixpath.split(path)
    try:
        entries = ls(join(server, folder), timeout)
    except CygnetError:
        return
    for entry in entries:
        if entry["name"].startswith(f".{name}{TEMP_MARK}"):
            try:
                _fs(server).rm(posixpath.join(folder, entry["name"]), timeout=timeout)
            except Exception:  # noqa: BLE001 - best effort
                pass


def is_url(target):
    return isinstance(target, str) and target.split("://", 1)[0] in SCHEMES


def _local_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None


def _local_temp(dst):
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise NotFound(f"{folder}: no such folder")
    return os.path.join(folder, partial_name(os.path.basename(dst)))


def home(endpoint, pattern, user):
    """The user's EOS home URL: `pattern` ('/eos/user/{u0}/{user}') on `endpoint`."""
    if not endpoint:
        raise CygnetError("no storage endpoint is configured (Cygnet.storage_endpoint)")
    server, _ = parse_url(endpoint.rstrip("/") + "//")
    return join(server, pattern.format(user=user, u0=user[:1]))


def in_home(home_url, rel, where):
    """The root:// URL of `rel` under `home_url` (the user's home): BadInput for a path that is
    not text or has '..' parts, so paths from requests stay inside the home ('.' parts, which
    stay where they are, are dropped)."""
    from cygnet.core import checks

    checks.text(rel, "path", required=False, allow_empty=True)
    parts = [p for p in rel.strip("/").split("/") if p and p != "."]
    if ".." in parts:
        raise BadInput(f"path {rel!r} has '..' parts: paths must stay inside {where}")
    return home_url.rstrip("/") + ("/" + "/".join(parts) if parts else "")
