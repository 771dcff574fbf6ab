"""Live shared folders, the hub's side: which folders are shared with whom, and the one door to
each of them.

An owner's folder moves into the hub's space, `<space>/<id>/<name>`, and a link takes its place
in their workspace (their session does both, as them: see `live_folders`). `<id>` is the door:
a folder of root's, mode 0700, whose ACL lets the owner in (rwx) and each colleague through
(--x). Opening or closing the door is the only thing done as root, in a folder no user can
write; so a revoke cuts a colleague off at once, whatever the files inside say. The files'
own ACLs (the colleague's read or read-write access) are set by each member's session on the
files it owns.

Needs the service to run as root and each hub user to have a Unix account of the same name,
as under the per-account spawner (`CygnetSystemUserSpawner`); otherwise every call says so.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cygnet.core.errors import BadInput, CygnetError, MissingTool, NotFound, Unavailable

from .session import Conflict, checked_users

MODES = ("rw", "ro")
MAX_NAME = 255


class Forbidden(CygnetError):
    """Only the folder's owner may do that."""

    http_status = 403
    exit_code = 2


@dataclass
class SharedFolder:
    id: str
    owner: str
    name: str  # the folder's name, in the space and in colleagues' `shared/<owner>/`
    path: str  # where it was in the owner's workspace (relative), where the link is
    target: str  # <space>/<id>/<name>
    created: float
    state: str = "shared"  # "closed": no colleague may enter; the owner moves it back
    members: dict[str, str] = field(default_factory=dict)  # colleague -> "rw" or "ro"

    def to_dict(self):
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "path": self.path,
            "target": self.target,
            "created": self.created,
            "state": self.state,
            "members": dict(sorted(self.members.items())),
        }


class SharedFolders:
    """The records (in the share service's database) and the doors (in `space`)."""

    def __init__(self, db_path, space):
        self.space = Path(space) if space else None
        self.db = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
        self.lock = threading.Lock()
        with self.lock, self.db:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("""CREATE TABLE IF NOT EXISTS folders (
                id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
                created REAL NOT NULL, state TEXT NOT NULL)""")
            self.db.execute("""CREATE TABLE IF NOT EXISTS folder_members (
                folder_id TEXT NOT NULL, user TEXT NOT NULL, mode TEXT NOT NULL, uid INTEGER NOT NULL,
                PRIMARY KEY (folder_id, user))""")
            self.db.execute("CREATE INDEX IF NOT EXISTS folder_members_user ON folder_members (user)")

    # --- whether this hub can share folders live -------------------------------------------
    def check_available(self, user=None):
        """Unavailable (with the reason) unless `user` can share folders live here."""
        if self.space is None:
            raise Unavailable("this hub shares no folders live (CygnetHub.shared_folders_root is empty)")
        if os.geteuid() != 0:
            raise Unavailable(
                "live shared folders need the hub to run as root with a Unix account per user "
                "(CygnetSystemUserSpawner); share a copy instead"
            )
        if not shutil.which("setfacl"):
            raise MissingTool("setfacl is not installed on the hub's machine (Debian's acl package)")
        if user is not None:
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise Unavailable(
                    f"live shared folders need a Unix account per hub user (the per-account spawner); {user} has none"
                ) from None

    def _make_space(self):
        """The space: root's, 0711 (anyone passes through, nobody lists), reachable by every account."""
        self.space.mkdir(parents=True, exist_ok=True)
        os.chmod(self.space, 0o711)
        for folder in self.space.resolve().parents:
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                raise Unavailable(
                    f"users cannot reach the shared folders' space {self.space}: {folder} is not "
                    "o+x (choose another CygnetHub.shared_folders_root)"
                )

    # --- the owner's side -------------------------------------------------------------------
    def create(self, owner, name, path, users, mode="rw") -> SharedFolder:
        """A door for `owner`'s folder `name` (at `path` in their workspace), open to `users`.
        The owner's session then moves the folder to the answer's `target`."""
        self.check_available(owner)
        self._make_space()
        name, path, mode = _checked_name(name), _checked_path(path), _checked_mode(mode)
        users = self._checked_colleagues(owner, users)
        with self.lock:
            taken = self.db.execute(
                "SELECT id FROM folders WHERE owner = ? AND path = ? AND state = 'shared'", (owner, path)
            ).fetchone()
        if taken:
            raise Conflict(f"{path} is already shared (folder {taken[0]}): add colleagues to it instead")
        folder = SharedFolder(secrets.token_hex(8), owner, name, path, "", time.time())
        folder.target = str(self.space / folder.id / name)
        door = self.space / folder.id
        door.mkdir(mode=0o700)
        try:
            os.chmod(door, 0o700)
            _setfacl("-m", f"u:{_account(owner).pw_uid}:rwx", door)
            for user in users:
                _setfacl("-m", f"u:{_account(user).pw_uid}:--x", door)
            with self.lock, self.db:
                self.db.execute(
                    "INSERT INTO folders VALUES (?, ?, ?, ?, ?, 'shared')",
                    (folder.id, owner, name, path, folder.created),
                )
                self.db.executemany(
                    "INSERT INTO folder_members VALUES (?, ?, ?, ?)",
                    [(folder.id, u, mode, _account(u).pw_uid) for u in users],
                )
        except BaseException:
            shutil.rmtree(door, ignore_errors=True)
            raise
        folder.members = dict.fromkeys(users, mode)
        return folder

    def grant(self, folder_id, owner, user, mode="rw") -> SharedFolder:
        folder = self._owned(folder_id, owner)
        if folder.state != "shared":
            raise Conflict("this folder is no longer shared (its owner is moving it back)")
        user, mode = self._checked_colleagues(owner, [user])[0], _checked_mode(mode)
        if user in folder.members:
            raise Conflict(f"{folder.name} is already shared with {user}")
        _setfacl("-m", f"u:{_account(user).pw_uid}:--x", self.space / folder.id)
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO folder_members VALUES (?, ?, ?, ?)", (folder.id, user, mode, _account(user).pw_uid)
            )
        folder.members[user] = mode
        return folder

    def revoke(self, folder_id, owner, user) -> SharedFolder:
        """Close the door to `user` (at once: their next open fails) and forget them."""
        folder = self._owned(folder_id, owner)
        if user not in folder.members:
            raise NotFound(f"{folder.name} is not shared with {user}")
        self._close_door(folder, [user])
        with self.lock, self.db:
            self.db.execute("DELETE FROM folder_members WHERE folder_id = ? AND user = ?", (folder.id, user))
        del folder.members[user]
        return folder

    def close(self, folder_id, owner) -> SharedFolder | None:
        """Stop sharing: every colleague is cut off; once the owner's session has moved the folder
        back (the door is empty), the record goes (None). Call again after the move."""
        folder = self._owned(folder_id, owner)
        self._close_door(folder, list(folder.members))
        with self.lock, self.db:
            self.db.execute("DELETE FROM folder_members WHERE folder_id = ?", (folder.id,))
            self.db.execute("UPDATE folders SET state = 'closed' WHERE id = ?", (folder.id,))
        folder.members, folder.state = {}, "closed"
        door = self.space / folder.id
        try:
            door.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return folder  # the folder is still inside: the owner's session moves it back first
        with self.lock, self.db:
            self.db.execute("DELETE FROM folders WHERE id = ?", (folder.id,))
        return None

    # --- everyone's side --------------------------------------------------------------------
    def list_for(self, user) -> list[SharedFolder]:
        """The folders `user` owns or is a member of, oldest first."""
        with self.lock:
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT id FROM folders WHERE owner = ? UNION SELECT folder_id FROM folder_members WHERE user = ?",
                    (user, user),
                )
            ]
        folders = [self._load(i) for i in ids]
        return sorted((f for f in folders if f is not None), key=lambda f: f.created)

    def get(self, folder_id, user) -> SharedFolder:
        folder = self._load(folder_id)
        if folder is None or (folder.owner != user and user not in folder.members):
            raise NotFound("no such shared folder")
        return folder

    # --- helpers ------------------------------------------------------------------------------
    def _owned(self, folder_id, owner):
        folder = self.get(folder_id, owner)
        if folder.owner != owner:
            raise Forbidden(f"only {folder.owner}, who shared {folder.name}, can change who may use it")
        return folder

    def _load(self, folder_id):
        with self.lock:
            row = self.db.execute(
                "SELECT id, owner, name, path, created, state FROM folders WHERE id = ?", (folder_id,)
            ).fetchone()
            if row is None:
                return None
            members = dict(
                self.db.execute("SELECT user, mode FROM folder_members WHERE folder_id = ?", (folder_id,)).fetchall()
            )
        fid, owner, name, path, created, state = row
        return SharedFolder(fid, owner, name, path, str(self.space / fid / name), created, state, members)

    def _checked_colleagues(self, owner, users):
        users = checked_users(users, "users")
        if owner in users:
            raise BadInput("you cannot share a folder with yourself")
        for user in users:
            _account(user)
        return users

    def _close_door(self, folder, users):
        if not users:
            return
        door = self.space / folder.id
        with self.lock:  # the uids recorded at the grant: the account may be gone by now
            uids = [
                r[0]
                for r in self.db.execute(
                    f"SELECT uid FROM folder_members WHERE folder_id = ? AND user IN ({','.join('?' * len(users))})",
                    (folder.id, *users),
                )
            ]
        if uids and door.exists():
            _setfacl("-x", ",".join(f"u:{uid}" for uid in uids), door)


def _account(user):
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise NotFound(f"{user} has no account on this machine, so no folder can be shared with them") from None


def _checked_name(name):
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or name in (".", "..") or "/" in name:
        raise BadInput("name must be a folder's name (no slashes, at most 255 characters)")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise BadInput("name must not hold control characters")
    return name


def _checked_path(path):
    if (
        not isinstance(path, str)
        or not path
        or len(path) > 4096
        or path.startswith("/")
        or "\x00" in path
        or ".." in PurePosixPath(path).parts
    ):
        raise BadInput("path must be the folder's path relative to your workspace")
    return path


def _checked_mode(mode):
    if mode not in MODES:
        raise BadInput("mode must be 'rw' (read and write) or 'ro' (read only)")
    return mode


def _setfacl(*args):
    """setfacl on a door (root's own folder, so no user can swap it for a link)."""
    try:
        subprocess.run(["setfacl", *map(str, args)], check=True, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise MissingTool("setfacl is not installed on the hub's machine (Debian's acl package)") from None
    except subprocess.CalledProcessError as e:
        raise Unavailable(f"setfacl failed: {e.stderr.strip()[:300]}") from None
