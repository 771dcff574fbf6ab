"""A box on EOS itself: a folder on an XRootD server (root://host//eos/user/a/alice/box), with the
operations the sync engine and the share store need, over `cygnet.storage.xrootd`.

Credentials are XRootD's own (a Kerberos ticket, an X.509 proxy or a token in the environment),
never a password in the URL. XRootD gives no etag, so a file's version is its mtime (seconds):
a box-side edit that keeps the size within the same second as our upload is not seen as a change.
"""

import posixpath
from urllib.parse import urlsplit

from cygnet.core.atomic import PARTIAL_MARK as TEMP_MARK
from cygnet.core.atomic import partial_target
from cygnet.core.errors import BadInput, NotFound, Unavailable

from . import xrootd


class XRootDBox:
    """A folder on an XRootD server (a cygnet.storage.box.Box)."""

    @classmethod
    def from_url(cls, url, username=None, password=None):
        if username or password:
            raise BadInput(
                "a root:// box takes XRootD's own credentials (Kerberos, X.509 proxy or token), not a password"
            )
        return cls(url)

    def __init__(self, url):
        if urlsplit(url).password:
            raise BadInput(
                "a root:// box URL carries no password: XRootD takes credentials from "
                "the environment (Kerberos, X.509 proxy or token)"
            )
        server, path = xrootd.parse_url(url)
        self.server, self.root = server, path.rstrip("/") or "/"
        self.display = xrootd.join(server, self.root)

    def path(self, rel):
        return xrootd.join(self.server, posixpath.join(self.root, rel) if rel else self.root)

    def stat(self, rel):
        """(size, version) of a file, or None if there is none."""
        try:
            info = xrootd.stat(self.path(rel))
        except NotFound:
            return None
        if info["type"] != "file":
            raise Unavailable(f"{self.path(rel)} is a folder in the box, and a file here")
        return info["size"], str(info["mtime"])

    def listing(self, folder):
        """name -> (size, version) of the files in one folder (one request for the folder)."""
        try:
            entries = xrootd.ls(self.path(folder))
        except NotFound:
            return {}
        return {e["name"]: (e["size"], str(e["mtime"])) for e in entries if e["type"] == "file"}

    def has_folder(self, folder):
        try:
            return xrootd.stat(self.path(folder))["type"] == "directory"
        except NotFound:
            return False

    def file_seen(self, rel):
        pass  # uploads make their folders on the way (MAKEPATH)

    def upload(self, local_path, rel):
        """The storage layer's copy: chunks in flight, into a temporary name renamed into place
        (folders made on the way). A lost connection is retried with a fresh copy."""
        xrootd.retried(lambda: xrootd.copy(local_path, self.path(rel), sweep=False))

    def rename(self, rel, new_rel):
        xrootd.rename(self.path(rel), posixpath.join(self.root, new_rel))

    def keep_version(self, rel, version_rel, move=False):
        """Moved, whatever `move` says: XRootD has no copy inside the server, and the upload that
        follows puts the new copy in place a moment later."""
        xrootd.mkdir(self.path(posixpath.dirname(version_rel)), parents=True)
        self.rename(rel, version_rel)

    def delete(self, rel):
        xrootd.rm(self.path(rel))

    def read(self, rel, within=""):  # the server resolves paths; no links to follow
        try:
            with xrootd.open_url(self.path(rel)) as f:
                return f.read()
        except NotFound as e:
            raise FileNotFoundError(str(e)) from None

    def remove_tree(self, rel):
        """Delete a folder of the box and everything in it (nothing if it is gone already)."""
        files, folders = self._walk(rel)
        for path in files:
            self._quietly(xrootd.rm, path)
        for path in sorted(folders, key=len, reverse=True):  # deepest first: rmdir wants them empty
            self._quietly(xrootd.rm, path)

    def remove_partials(self, owned=None):
        """Delete what crashed uploads left behind (only those `owned(rel)` claims, where `rel` is
        the file the upload was for); returns how many."""
        root = self.path("").rstrip("/") + "/"
        partials = [
            p
            for p in self._walk("")[0]
            if TEMP_MARK in posixpath.basename(p) and (owned is None or owned(partial_target(p[len(root) :])))
        ]
        for path in partials:
            self._quietly(xrootd.rm, path)
        return len(partials)

    def _walk(self, rel):
        """(file URLs, folder URLs) under `rel`, the folder itself included; empty if it is gone."""
        files, folders, pending = [], [], [self.path(rel)]
        while pending:
            folder = pending.pop()
            try:
                entries = xrootd.ls(folder)
            except NotFound:
                continue
            folders.append(folder)
            for entry in entries:
                (pending if entry["type"] == "directory" else files).append(entry["url"])
        return files, folders

    @staticmethod
    def _quietly(function, url):
        try:
            function(url)
        except NotFound:
            pass  # gone already
