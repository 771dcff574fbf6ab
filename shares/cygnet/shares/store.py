"""Shares: links to a snapshot of a notebook, file or folder, copied into the box.

A share is a row in an SQLite database plus a snapshot in the box under <id>/<rev>/. The
snapshot is taken when the share is made (later private edits stay private) and again on
refresh, into a new revision that replaces the old one in one database update, so a viewer
never sees half a refresh. The link's token is shown once and stored only as its SHA-256.

Identity: a share belongs to the user who made it ($JUPYTERHUB_USER under JupyterHub, else
the account running Cygnet) and may name other users, who find it in `shared_with`. A site
that points every user's `shares_db` and `shares_url` at shared locations gets cross-user
sharing; the embedded default keeps both in the user's own data directory.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from cygnet.core import checks
from cygnet.core.errors import BadInput, Expired, NotFound
from cygnet.core.paths import confine, place_new
from cygnet.storage.box import open_box

from .bundle import safe_rel

TOKEN_BYTES = 24  # 192 bits of randomness
MAX_FILES = 10000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value):
    """Seconds from 3600, '90m', '12h', '7d' or '2w'; None for no expiry."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise BadInput(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise BadInput(f"not a duration: {value!r} (use seconds or a number with s, m, h, d or w, like 7d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= 10 * 365 * 86400:
        raise BadInput(f"an expiry must be between 1 second and 10 years, not {value!r}")
    return seconds


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Share:
    id: str
    owner: str
    path: str  # where the original was, relative to the owner's workspace
    kind: str  # "notebook", "file" or "folder"
    rev: int
    files: list  # [[relative path, size], ...] of the snapshot
    created: float
    refreshed: float
    expires: float = None
    revoked: float = None
    users: list = field(default_factory=list)
    gallery: dict = None  # {title, description, hidden} when published to the hub's gallery

    @property
    def name(self):
        return PurePosixPath(self.path).name

    @property
    def expired(self):
        return self.expires is not None and time.time() >= self.expires

    def size(self, rel):
        for name, size in self.files:
            if name == rel:
                return size
        raise NotFound(f"{rel} is not part of this share")

    def to_dict(self):
        data = asdict(self)
        data.pop("revoked")
        data["name"] = self.name
        data["state"] = "expired" if self.expired else "active"
        data["bytes"] = sum(size for _, size in self.files)
        data["files"] = len(self.files)
        return data


def open_share_store(config, workspace):
    """The store a server or the CLI uses: the hub's share service when Cygnet runs under a hub
    that has one (Cygnet.shares_service_url), else the embedded store in the data dir."""
    if config.shares_service_url:
        from .client import ShareServiceClient

        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        return ShareServiceClient(config.shares_service_url, token, workspace, config.share_max_bytes)
    return ShareStore(config.shares_db, config.shares_url, workspace, config.share_max_bytes)


def share_link(store, token, base):
    """The public link of a share: on the hub's share service (on `base`'s host) when the store
    is there, else under `base` (a server's public address; a bare path when empty)."""
    if store.page_prefix:
        parts = urlsplit(base)
        return (f"{parts.scheme}://{parts.netloc}" if parts.netloc else "") + store.page_prefix + token
    return (base.rstrip("/") if base else "") + "/cygnet/s/" + token


class ShareStore:
    """The shares of a workspace: made, listed, refreshed and revoked by their owner, resolved
    by token for anyone with the link."""

    page_prefix = None  # public pages are served by the server that holds the store

    def __init__(self, db_path, shares_url, workspace, max_bytes=1 << 30):
        self.workspace = Path(workspace).resolve() if workspace else None  # None: the hub's service
        self.shares_url, self.max_bytes = shares_url, max_bytes
        self._box = None
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the server's threads (guarded); WAL lets the CLI write at the
        # same time from another process.
        self.db = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
        self.lock = threading.Lock()
        with self.lock, self.db:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("""CREATE TABLE IF NOT EXISTS shares (
                id TEXT PRIMARY KEY, token_sha256 TEXT UNIQUE NOT NULL, owner TEXT NOT NULL,
                path TEXT NOT NULL, kind TEXT NOT NULL, rev INTEGER NOT NULL, files TEXT NOT NULL,
                created REAL NOT NULL, refreshed REAL NOT NULL, expires REAL, revoked REAL)""")
            self.db.execute("""CREATE TABLE IF NOT EXISTS share_users (
                share_id TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (share_id, user))""")
            self.db.execute("CREATE INDEX IF NOT EXISTS shares_owner ON shares (owner)")
            self.db.execute("CREATE INDEX IF NOT EXISTS share_users_user ON share_users (user)")

    @property
    def box(self):
        if self._box is None:
            self._box = open_box(self.shares_url)
        return self._box

    # --- the owner's side -------------------------------------------------------------------
    def create(self, path, owner, expires_in=None, users=()):
        """Snapshot `path` (relative to the workspace) and make a share of it; returns
        (Share, token). The token is not kept: only its hash is."""
        rel, source = self._source(path)
        return self.create_from(rel, source, owner, expires_in, users)

    def create_from(self, rel, source, owner, expires_in=None, users=()):
        """A share of `source` (a file or folder anywhere: the hub's share service unpacks what a
        user's server sent), recorded as `rel` of the owner's workspace."""
        rel = _normal(rel) if isinstance(rel, str) else rel
        if not safe_rel(rel):
            raise BadInput(f"{rel!r} is not a workspace path a share can have (relative, nothing hidden)")
        source = Path(source)
        users = _check_users(users)
        seconds = parse_duration(expires_in)
        files = self._files_of(source)
        now = time.time()
        share = Share(
            id=secrets.token_hex(8),
            owner=owner,
            path=rel,
            kind=_kind(source),
            rev=1,
            files=files,
            created=now,
            refreshed=now,
            expires=now + seconds if seconds else None,
            users=users,
        )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._snapshot(source, share)  # before the row: a link never points at a missing snapshot
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO shares VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    share.id,
                    hash_token(token),
                    owner,
                    rel,
                    share.kind,
                    share.rev,
                    json.dumps(files),
                    now,
                    now,
                    share.expires,
                ),
            )
            self.db.executemany("INSERT INTO share_users VALUES (?, ?)", [(share.id, u) for u in users])
        return share, token

    def list(self, owner, path=None):
        """The owner's live shares (expired ones included, revoked ones not), newest first;
        only those of `path` if given."""
        query = "SELECT * FROM shares WHERE owner = ? AND revoked IS NULL"
        args = [owner]
        if path is not None:
            query += " AND path = ?"
            args.append(_normal(path))
        return self._shares(query + " ORDER BY created DESC", args)

    def shared_with(self, user):
        """Live shares that name `user`, newest first."""
        shares = self._shares(
            "SELECT s.* FROM shares s JOIN share_users u ON u.share_id = s.id "
            "WHERE u.user = ? AND s.revoked IS NULL ORDER BY s.created DESC",
            [user],
        )
        return [s for s in shares if not s.expired]

    def get(self, share_id, owner):
        found = self._shares("SELECT * FROM shares WHERE id = ? AND owner = ? AND revoked IS NULL", [share_id, owner])
        if not found:
            raise NotFound(f"no share {share_id} of yours")
        return found[0]

    def refresh(self, share_id, owner):
        """Take a new snapshot of the original, which then replaces the shared one."""
        share = self.get(share_id, owner)
        try:
            _, source = self._source(share.path)
        except NotFound:
            raise NotFound(f"{share.path} no longer exists, so the share keeps its last snapshot") from None
        return self.refresh_from(share, source)

    def refresh_from(self, share, source):
        """Refresh `share` (one its owner got with `get`) from `source` (see create_from)."""
        source = Path(source)
        if _kind(source) != share.kind:
            raise BadInput(f"{share.path} is no longer a {share.kind}; make a new share")
        old_rev = share.rev
        share.files, share.rev, share.refreshed = self._files_of(source), old_rev + 1, time.time()
        self._snapshot(source, share)
        with self.lock, self.db:
            self.db.execute(
                "UPDATE shares SET rev = ?, files = ?, refreshed = ? WHERE id = ?",
                (share.rev, json.dumps(share.files), share.refreshed, share.id),
            )
        self.box.remove_tree(f"{share.id}/{old_rev}")
        return share

    def revoke(self, share_id, owner):
        """End a share: its link answers 404 from now on and its snapshot is deleted."""
        share = self.get(share_id, owner)
        with self.lock, self.db:
            self.db.execute("UPDATE shares SET revoked = ? WHERE id = ?", (time.time(), share.id))
        self.box.remove_tree(share.id)
        return share

    # --- anyone with the link ----------------------------------------------------------------
    def resolve(self, token):
        """The share a link's token opens: NotFound if unknown or revoked, Expired if expired."""
        if not isinstance(token, str) or not 16 <= len(token) <= 64:
            raise NotFound("no such share")
        found = self._shares("SELECT * FROM shares WHERE token_sha256 = ?", [hash_token(token)])
        if not found or found[0].revoked is not None:
            raise NotFound("no such share: the link is wrong or was revoked")
        if found[0].expired:
            raise Expired("this share link has expired")
        return found[0]

    def for_user(self, share_id, user):
        """A share opened by id by a user it names (or its owner)."""
        found = self._shares("SELECT * FROM shares WHERE id = ? AND revoked IS NULL", [share_id])
        if not found or (user != found[0].owner and user not in found[0].users):
            raise NotFound(f"no share {share_id} shared with you")
        if found[0].expired:
            raise Expired("this share has expired")
        return found[0]

    def read(self, share, rel=None):
        """The bytes of one file of the snapshot (the only one, for a file share)."""
        rel = rel if rel is not None else share.files[0][0] if share.kind != "folder" else None
        if rel is None:
            raise BadInput("a folder share is downloaded as a zip")
        share.size(rel)  # only names listed in the snapshot: nothing else can be reached
        snapshot = f"{share.id}/{share.rev}"
        try:
            return self.box.read(f"{snapshot}/{rel}", within=snapshot)
        except FileNotFoundError:
            raise NotFound(f"{rel} is missing from the share's snapshot") from None

    def write_zip(self, share, out):
        """Write the snapshot of a folder share into the file object `out` as a zip."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel, _ in share.files:
                archive.writestr(f"{share.name}/{rel}", self.read(share, rel))

    def write_bundle(self, share, out):
        """Write the snapshot into `out` as a bundle (see bundle), for a copy made elsewhere."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for rel, _ in share.files:
                archive.writestr(rel, self.read(share, rel))

    def copy_into(self, share, folder):
        """Copy the snapshot into `folder` under a name nothing has yet; returns the new path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{share.name}.", suffix=".share"))
        try:
            for rel, _ in share.files:
                target = confine(staging, rel) if share.kind == "folder" else staging / "content"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.read(share, rel))
            source = staging if share.kind == "folder" else staging / "content"
            return place_new(source, folder, share.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # --- the gallery is the hub's (its share service) ------------------------------------------
    def publish(self, *_args, **_kwargs):
        raise BadInput("the gallery is the hub's: publishing needs Cygnet under JupyterHub with its share service")

    unpublish = from_gallery = publish

    # --- inside ------------------------------------------------------------------------------
    def _source(self, path):
        if self.workspace is None:
            raise BadInput("this share store has no workspace: send the content (see bundle)")
        return share_source(self.workspace, path)

    def _files_of(self, source):
        return files_of(source, self.max_bytes)

    def _snapshot(self, source, share):
        prefix = f"{share.id}/{share.rev}"
        self.box.remove_tree(prefix)  # what a crashed snapshot of this revision left
        for rel, _ in share.files:
            local = source / rel if share.kind == "folder" else source
            self.box.upload(str(local), f"{prefix}/{rel}")

    def _shares(self, query, args):
        with self.lock:
            rows = self.db.execute(query, args).fetchall()
        return self.shares_of_rows(rows)

    def shares_of_rows(self, rows):
        """Shares of rows of the `shares` table (in its column order); rows not well formed are left out."""
        with self.lock:
            users = {}
            for row in rows:
                users[row[0]] = [
                    u
                    for (u,) in self.db.execute(
                        "SELECT user FROM share_users WHERE share_id = ? ORDER BY user", (row[0],)
                    )
                ]
        shares = []
        for r in rows:
            try:
                share = Share(
                    id=r[0],
                    owner=r[2],
                    path=r[3],
                    kind=r[4],
                    rev=r[5],
                    files=json.loads(r[6]),
                    created=r[7],
                    refreshed=r[8],
                    expires=r[9],
                    revoked=r[10],
                    users=users[r[0]],
                )
            except (TypeError, ValueError):
                continue
            if _well_formed(share):
                shares.append(share)
        return shares

    def close(self):
        with self.lock:
            self.db.close()


def share_source(workspace, path):
    """(rel, resolved path) of what `path` of the workspace names, checked: it exists, it is
    inside, nothing on the way is hidden."""
    path = checks.text(path, "path", required=False, allow_empty=True)  # a string, as every field
    if not path or not path.strip().rstrip("/") or path.strip() in (".", "./"):
        raise BadInput("give the path of a notebook, file or folder of the workspace to share")
    rel = _normal(path)
    source = confine(workspace, rel)  # resolved: a link is judged by what it points at
    if not source.exists():
        raise NotFound(f"{rel} does not exist in the workspace")
    if _hidden(rel) or _hidden(source.relative_to(workspace).as_posix()):
        raise BadInput(f"{rel} is hidden (or links to a hidden file); hidden files and folders are not shared")
    return rel, source


def files_of(source, max_bytes):
    """[[rel, size]] of what a share of `source` holds: the file, or the folder's files
    without hidden ones (.git, .ipynb_checkpoints, .env) and without symbolic links."""
    if source.is_file():
        if source.stat().st_size > max_bytes:
            raise BadInput(f"{source.name} is larger than {max_bytes} bytes, too big to share")
        return [[source.name, source.stat().st_size]]
    files, total = [], 0
    for folder, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.startswith(".") or os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            files.append([os.path.relpath(path, source).replace(os.sep, "/"), size])
            total += size
            if len(files) > MAX_FILES or total > max_bytes:
                raise BadInput(
                    f"{source.name} is too big to share (more than {MAX_FILES} files "
                    f"or {max_bytes} bytes); share a smaller folder"
                )
    return files


def _hidden(rel):
    return any(part.startswith(".") for part in PurePosixPath(rel).parts)


_SHARE_ID = re.compile(r"^[0-9a-f]{16}$")


def _well_formed(share):
    """Whether a share row is one this store could have written. Anyone who can write the
    database (every co-user, where a site shares it) could write any row: one that is not
    well formed is treated as not there."""
    files = share.files
    if not (
        _SHARE_ID.match(str(share.id))
        and share.kind in ("notebook", "file", "folder")
        and safe_rel(share.path)
        and isinstance(share.rev, int)
        and isinstance(files, list)
    ):
        return False
    if not all(isinstance(f, list) and len(f) == 2 and safe_rel(f[0]) and isinstance(f[1], int) for f in files):
        return False
    if share.kind != "folder":  # one file, under the shared file's own name
        return len(files) == 1 and files[0][0] == share.name
    return True


def _kind(source):
    if source.is_dir():
        return "folder"
    return "notebook" if source.suffix == ".ipynb" else "file"


def _normal(path):
    return str(PurePosixPath(path.strip().rstrip("/")))  # a leading / stays: confine refuses it


def _check_users(users):
    return sorted(set(checks.names(users, "users")))
