"""A box: a folder on a local disk (LocalBox, with os calls) or a WebDAV server such as CERNBox,
ownCloud or Nextcloud (WebDAVBox, through fsspec), or on EOS over XRootD (`xrootd_box.XRootDBox`). Each
implements the `Box` protocol, the few operations the sync engine and the share store need and
all they depend on; `open_box` chooses one by the URL's scheme from the BOXES registry.
Credentials come from the caller or the environment
($CYGNET_BOX_USER, $CYGNET_BOX_PASSWORD; XRootD's own for root://), never from the URL, which
is safe to log."""

from __future__ import annotations  # kernels may import the box (cygnet.storage.sync) on Python < 3.10

import functools
import importlib
import os
import posixpath
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from cygnet.core import contract
from cygnet.core.atomic import PARTIAL_MARK as TEMP_MARK
from cygnet.core.atomic import partial_name, partial_target  # noqa: F401 - part of the box's vocabulary
from cygnet.core.errors import BadInput, NotAuthenticated, NotFound, Unavailable

ATTEMPTS = 3  # for reads and whole-file uploads, on server errors only


class Box(Protocol):
    """What the sync engine and the share store need of a box. Paths are relative to the box's
    root, with '/'. Errors are CygnetErrors naming the box, except FileNotFoundError where said.
    A box whose copies are cheap to read may also have `lazy_digests = True` and
    `digest(rel, file_digest)`: the sync engine then hashes a file only when it must. A box on
    a disk (no round trips to overlap) may have `local = True`: a few files are then sent one
    after the other, without starting a pool of threads."""

    display: str  # the box's URL or path, without credentials: safe to log

    def stat(self, rel: str) -> tuple | None:
        """(size, version) of a file, or None if there is none."""

    def listing(self, folder: str) -> dict:
        """name -> (size, version) of the files in one folder ({} if there is none)."""

    def has_folder(self, folder: str) -> bool:
        """Whether the box has the folder ("" for its root)."""

    def file_seen(self, rel: str) -> None:
        """The caller saw a file at `rel`: uploads into its folder need not make the folder."""

    def upload(self, local_path: str, rel: str) -> None:
        """Upload under a temporary name, then move into place in one step. (A box may also have
        `upload_hashing(local_path, rel, new_hash)`: the same, returning a hash of what it sent.)"""

    def rename(self, rel: str, new_rel: str) -> None: ...

    def keep_version(self, rel: str, version_rel: str, move: bool = False) -> None:
        """The box's copy of `rel` kept as `version_rel` as well (only there, with `move`), by the
        box itself; folders made on the way."""

    def delete(self, rel: str) -> None: ...

    def read(self, rel: str, within: str = "") -> bytes:
        """A file's bytes (FileNotFoundError if missing); never from outside the folder `within`."""

    def remove_tree(self, rel: str) -> None:
        """Delete a folder and everything in it (nothing if it is gone already)."""

    def remove_partials(self, owned: Callable[[str], bool] | None = None) -> int:
        """Delete partial uploads a crash left (those `owned(target rel)` claims); returns how many."""


# URL scheme -> "module:factory": boxes register by scheme, as fsspec's implementations do, and
# are imported only when used. A factory takes (url, username, password).
BOXES = {
    "": "cygnet.storage.box:LocalBox.from_url",
    "file": "cygnet.storage.box:LocalBox.from_url",
    "webdav": "cygnet.storage.box:WebDAVBox.from_url",
    "webdavs": "cygnet.storage.box:WebDAVBox.from_url",
    "http": "cygnet.storage.box:WebDAVBox.from_url",
    "https": "cygnet.storage.box:WebDAVBox.from_url",
    "root": "cygnet.storage.xrootd_box:XRootDBox.from_url",
    "xroot": "cygnet.storage.xrootd_box:XRootDBox.from_url",
    "roots": "cygnet.storage.xrootd_box:XRootDBox.from_url",
    "xroots": "cygnet.storage.xrootd_box:XRootDBox.from_url",
}


def open_box(url: str, username: str | None = None, password: str | None = None) -> Box:
    """The box for `url`, chosen by its scheme: a local path, webdav(s):// (or http(s)://), root://."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in BOXES:
        raise BadInput(f"a box is a local folder, a webdav(s):// URL or a root:// URL, not {url!r}")
    module, _, name = BOXES[scheme].partition(":")
    factory: Any = importlib.import_module(module)
    for part in name.split("."):
        factory = getattr(factory, part)
    return factory(url, username, password)


class _LocalFS:
    """The few filesystem calls a local box makes, as fsspec's local filesystem answers them
    (same info fields, so journals carry over), with os and shutil: importing fsspec costs a
    `cygnet sync` with a few changes more than the sync itself."""

    @staticmethod
    def info(path):
        st = os.stat(path)
        kind = "directory" if os.path.isdir(path) else "file" if os.path.isfile(path) else "other"
        return {"name": path, "size": st.st_size, "type": kind, "mtime": st.st_mtime}

    def ls(self, path, detail=True):
        with os.scandir(path) as entries:
            return [self.info(entry.path) for entry in entries]

    @staticmethod
    def makedirs(path, exist_ok=False):
        os.makedirs(path, exist_ok=exist_ok)

    @staticmethod
    def put_file(local_path, target):
        import shutil  # here: a no-op sync starts faster without it

        shutil.copyfile(local_path, target)

    @staticmethod
    def rm_file(path):
        os.remove(path)

    @staticmethod
    def cat_file(path):
        with open(path, "rb") as f:
            return f.read()

    @staticmethod
    def rm(path, recursive=False):
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path)
        else:
            os.remove(path)

    @staticmethod
    def find(path):
        if not os.path.isdir(path):
            raise FileNotFoundError(path)
        return [os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names]


class FsspecBox:
    """What a box over an fsspec-style filesystem shares (fsspec's for WebDAV, _LocalFS for a
    local folder); LocalBox and WebDAVBox differ in how a file is put, moved into place and read."""

    def __init__(self, make_fs, root, display):
        self._make_fs, self.root, self.display = make_fs, root, display
        self._folders_made = set()

    @functools.cached_property
    def fs(self):
        """The filesystem, made (and imported) on first use: a no-op sync never needs it."""
        return self._make_fs()

    def path(self, rel):
        return posixpath.join(self.root, rel) if self.root else rel

    def stat(self, rel):
        """(size, version) of a file, or None if there is none."""
        try:
            info = self._read(self.fs.info, self.path(rel))
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            raise Unavailable(f"{self.display}/{rel} is a folder in the box, and a file here")
        return info["size"], _version(info)

    def listing(self, folder):
        """name -> (size, version) of the files in one folder of the box ({} if it has none):
        one request for a whole folder, where a stat per file would cost one each."""
        try:
            entries = self._read(self.fs.ls, self.path(folder) if folder else (self.root or "/"), detail=True)
        except FileNotFoundError:
            return {}
        return {
            posixpath.basename(e["name"].rstrip("/")): (e["size"], _version(e))
            for e in entries
            if e.get("type") == "file"
        }

    def has_folder(self, folder):
        try:
            info = self._read(self.fs.info, self.path(folder) if folder else (self.root or "/"))
        except FileNotFoundError:
            return False
        return info.get("type") == "directory"

    def file_seen(self, rel):
        """The caller saw a file at `rel` in the box: uploads to its folder need not make the
        folder (three WebDAV requests, 70 ms with wsgidav, per folder)."""
        self._folders_made.add(posixpath.dirname(self.path(rel)))

    def upload(self, local_path, rel):
        """Upload under a temporary name, then move into place in one step: a reader never
        sees half a file under the real name. A server error is retried with a fresh upload
        (the whole step is idempotent); a refusal is not."""
        self._upload(local_path, rel)

    def _upload(self, local_path, rel, new_hash=None):
        """upload(); with `new_hash` (a hash's constructor, for a box whose _put takes one),
        returns the hash of the bytes sent by the attempt that succeeded."""
        final = self.path(rel)
        folder, name = posixpath.split(final)
        if folder not in self._folders_made:
            self._read(self.fs.makedirs, folder, exist_ok=True)
            self._folders_made.add(folder)

        def attempt():
            temp = posixpath.join(folder, partial_name(name))
            hashed = new_hash() if new_hash else None  # afresh at each attempt
            try:
                if hashed is None:
                    self._call(self._put, local_path, temp)
                else:
                    self._call(self._put, local_path, temp, hashed)
                self._replace(temp, final)
            except BaseException:
                self._quietly_remove(temp)
                raise
            return hashed

        return self._with_retries(attempt)

    def rename(self, rel, new_rel):
        self._replace(self.path(rel), self.path(new_rel))

    def keep_version(self, rel, version_rel, move=False):
        target = self.path(version_rel)
        folder = posixpath.dirname(target)
        if folder not in self._folders_made:
            self._read(self.fs.makedirs, folder, exist_ok=True)
            self._folders_made.add(folder)
        self._call(self._replace if move else self._copy, self.path(rel), target)

    def delete(self, rel):
        self._call(self.fs.rm_file, self.path(rel))

    def read(self, rel, within=""):
        return self._call(self.fs.cat_file, self.path(rel))

    def remove_tree(self, rel):
        """Delete a folder of the box and everything in it (nothing if it is gone already)."""
        try:
            self._call(self.fs.rm, self.path(rel), recursive=True)
        except FileNotFoundError:
            pass

    def remove_partials(self, owned=None):
        """Delete what crashed uploads left behind (only those `owned(rel)` claims, where `rel` is
        the file the upload was for: another writer's uploads in flight are not ours to sweep);
        returns how many."""
        try:
            found = self._call(self.fs.find, self.root or "/")
        except FileNotFoundError:
            return 0
        root = (self.root or "").rstrip("/") + "/"
        partials = [
            p
            for p in found
            if TEMP_MARK in posixpath.basename(p)
            and (owned is None or owned(partial_target(p[len(root) :] if p.startswith(root) else p)))
        ]
        for path in partials:
            self._quietly_remove(path)
        return len(partials)

    def _read(self, function, *args, **kwargs):
        """A read, retried on server errors: some servers (wsgidav among them) fail a listing
        with a 500 when a file vanishes while they list, as our own temporary names do."""
        return self._with_retries(lambda: self._call(function, *args, **kwargs))

    @staticmethod
    def _with_retries(step):
        """Run an idempotent `step`, again after a server error or a lost connection (up to
        ATTEMPTS times), never after a refusal (401, 403)."""
        for attempt in range(ATTEMPTS):
            try:
                return step()
            except Unavailable as e:
                if attempt == ATTEMPTS - 1 or not _transient(e):
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _put(self, local_path, target):
        raise NotImplementedError

    def _replace(self, source, target):
        raise NotImplementedError

    def _copy(self, source, target):
        raise NotImplementedError

    def _quietly_remove(self, path):
        try:
            self.fs.rm_file(path)
        except Exception:  # noqa: BLE001 - best effort; the next sync removes it
            pass

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except FileNotFoundError:
            raise
        except PermissionError as e:
            raise Unavailable(f"the box {self.display} refused access: {e}") from e
        except OSError as e:
            raise Unavailable(f"the box {self.display}: {e}") from e
        except _remote_errors() as e:  # refused, unreachable, timed out: name the box and the cause
            raise Unavailable(f"the box {self.display}: {type(e).__name__}: {e}") from e


class LocalBox(FsspecBox):
    """A folder on a local (or network-mounted) disk."""

    lazy_digests = True  # its copies are at hand: a sync hashes one only when it has to
    local = True  # a disk, not a server: a sync sends a few files without a pool of threads

    def digest(self, rel, file_digest):
        """The digest of the box's copy of `rel`, by `file_digest(path)`."""
        return file_digest(self.path(rel))

    @classmethod
    def from_url(cls, url, username=None, password=None):
        parts = urlsplit(url)
        root = os.path.abspath(os.path.expanduser(parts.path if parts.scheme else url))
        return cls(_LocalFS, root, display=root)

    def read(self, rel, within=""):
        """Only if the file really lies inside the folder `within`: a link planted in the box
        leads nowhere else."""
        real, folder = os.path.realpath(self.path(rel)), os.path.realpath(self.path(within))
        if os.path.commonpath([real, folder]) != folder:
            raise FileNotFoundError(rel)
        return super().read(rel)

    def _put(self, local_path, target):
        return self.fs.put_file(local_path, target)

    def _replace(self, source, target):
        os.replace(source, target)

    def _copy(self, source, target):
        # A hard link costs nothing, and stays the old content: uploads replace the file whole.
        try:
            os.link(source, target)
        except OSError:  # another filesystem's rules (no links): a real copy
            import shutil

            shutil.copy2(source, target)


class WebDAVBox(FsspecBox):
    """A folder on a WebDAV server (CERNBox, ownCloud, Nextcloud), with credentials from the
    caller or $CYGNET_BOX_USER / $CYGNET_BOX_PASSWORD, never from the URL; without them, the
    user's Kerberos ticket when the server asks for Negotiate."""

    @classmethod
    def from_url(cls, url, username=None, password=None):
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise BadInput("put box credentials in $CYGNET_BOX_USER and $CYGNET_BOX_PASSWORD, not in the URL")
        http = "https" if parts.scheme in ("webdavs", "https") else "http"
        user = username or contract.BOX_USER.get()
        password = password or contract.BOX_PASSWORD.get()

        def webdav():
            from webdav4.fsspec import WebdavFileSystem

            from cygnet.core.negotiate import HttpxNegotiate

            # Without a user, a server that asks for Negotiate gets the session's Kerberos ticket.
            auth = (user, password) if user else HttpxNegotiate()
            return WebdavFileSystem(f"{http}://{parts.netloc}/", auth=auth, timeout=60, retry=True)

        return cls(webdav, parts.path.strip("/"), display=f"{parts.scheme}://{parts.netloc}{parts.path}")

    def upload_hashing(self, local_path, rel, new_hash):
        """upload(), returning a `new_hash()` fed the bytes as they were sent: the sync engine's
        digest of a file without a second read. Hashed in a thread of its own beside the upload
        (the file read twice, and the GIL handed back and forth between the two threads),
        3 x 256 MiB took 13% longer to a local wsgidav."""
        return self._upload(local_path, rel, new_hash)

    def _put(self, local_path, target, hashed=None):
        # The client's own PUT: fsspec's put_file would check and make the folder again for
        # every file (two more requests each), which upload() has done once per folder.
        with open(local_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            body = f if hashed is None else _Hashing(f, hashed)
            self.fs.client.upload_fileobj(body, target, overwrite=True, size=size)

    def _replace(self, source, target):
        # one WebDAV MOVE with Overwrite: T (fsspec's mv copies, then deletes)
        self._call(self.fs.client.move, source, target, overwrite=True)

    def _copy(self, source, target):
        self.fs.client.copy(source, target, overwrite=True)  # the server's own COPY


class _Hashing:
    """A file read for an upload, each block also fed to a hash on the way."""

    def __init__(self, file, hashed):
        self._file, self._hashed = file, hashed

    def read(self, size=-1):
        block = self._file.read(size)
        self._hashed.update(block)
        return block


def _transient(error):
    """Worth retrying: a server error (5xx) or a lost connection, not a refusal (401, 403)."""
    if isinstance(error, NotAuthenticated):
        return False
    status = getattr(error.__cause__, "status_code", None)
    return status is None or status >= 500


def _version(info):
    """What changes when a file changes: the server's etag where it has one, else its mtime."""
    return info.get("etag") or str(info.get("mtime") or info.get("modified") or info.get("created"))


def _remote_errors():
    try:
        import httpx
        from webdav4.client import HTTPError
    except ImportError:
        return ()
    return (HTTPError, httpx.HTTPError)


def box_subfolder(box_url, folder):
    """The URL of `folder` inside the box at `box_url`; BadInput if it would leave the box."""
    folder = (folder or "").strip().strip("/")
    parts = folder.split("/") if folder else []
    if any(p in ("", ".", "..") or "\\" in p for p in parts) or "\0" in folder:
        raise BadInput(f"box folder {folder!r} must stay inside the box")
    return box_url.rstrip("/") + ("/" + folder if folder else "")


def check_local_folder(path):
    if not os.path.isdir(path):
        raise NotFound(f"{path} is not a folder")
    return os.path.abspath(path)
