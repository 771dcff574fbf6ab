"""Live shared folders, a session's side: everything done to files here is done by the session's
own account, on files it may touch anyway (the hub's service only opens and closes doors: see
`folders`).

- Sharing moves the owner's folder through its door into the hub's space and leaves a link in
  its place, so the owner keeps working at the same path; stopping moves it back.
- Each member's session gives the folder's current members access to the files *it* owns
  (POSIX ACLs, with defaults so that new files carry them too): read-write or read-only.
- A colleague's session links each folder shared with them at `shared/<owner>/<name>` in their
  workspace, and takes the link away once they are no longer let in.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from cygnet.core.atomic import atomic_write
from cygnet.core.errors import BadInput, CygnetError, MissingTool, NotFound, Unavailable
from cygnet.core.paths import confine, free_name, in_shared_folder

log = logging.getLogger("cygnet.shares")
LINKS = "shared"  # the folder of a colleague's workspace where folders shared with them appear
STATE = "live-folders.json"  # in the data dir: the members each folder's ACLs were last given


class LiveFolders:
    """One session's live shared folders, through the hub's share service (`client`)."""

    def __init__(self, client, workspace, data_dir, user):
        self.client, self.user = client, user
        self.workspace = Path(workspace).resolve()
        self.state_file = Path(data_dir) / STATE

    # --- the owner's side -------------------------------------------------------------------
    def share(self, path, users, mode="rw"):
        """Share the workspace folder `path` live with `users`; the folder's record."""
        source = confine(self.workspace, path)
        if in_shared_folder(source) or (self.workspace / path).is_symlink():
            raise BadInput(f"{path} is shared live already, or is a link: share the folder itself, once")
        rel = source.relative_to(self.workspace).as_posix()
        if source == self.workspace:
            raise BadInput("share a folder inside your workspace, not the whole workspace")
        if not source.is_dir():
            raise NotFound(f"{rel} is not a folder of your workspace")
        if (self.workspace / LINKS) in [source, *source.parents]:
            raise BadInput(f"{rel} is in {LINKS}/, where folders others shared with you are: it cannot be shared on")
        folder = self.client.folder_create(source.name, rel, users, mode)
        target = Path(folder["target"])
        try:
            _move(source, target)
        except OSError as e:
            self.client.folder_close(folder["id"])
            raise Unavailable(f"{rel} could not be moved into the shared space: {e.strerror or e}") from None
        try:
            os.symlink(target, source, target_is_directory=True)
        except OSError as e:  # something took its place in the meantime: the folder goes back
            _move(target, source.parent / free_name(source.parent, source.name, is_folder=True))
            self.client.folder_close(folder["id"])
            raise Unavailable(f"{rel} could not be linked back into your workspace: {e.strerror or e}") from None
        self._give_access(folder)
        log.info("cygnet: %s shared live with %s (%s)", rel, ", ".join(folder["members"]), mode)
        return folder

    def grant(self, folder_id, user, mode="rw"):
        folder = self.client.folder_grant(folder_id, user, mode)
        self._give_access(folder)
        return folder

    def revoke(self, folder_id, user):
        folder = self.client.folder_revoke(folder_id, user)
        self._give_access(folder)
        return folder

    def stop(self, folder_id):
        """Stop sharing: colleagues are cut off first, then the folder comes back to where it was
        (beside it, under a free name, if something else is there now). Re-run after a failure."""
        folder = self.client.folder_close(folder_id)
        if folder is None:  # already back
            return None
        target = Path(folder["target"])
        if not target.exists():
            raise NotFound(f"{folder['name']} is no longer in the shared space; nothing to move back")
        place = self.workspace / folder["path"]
        if place.is_symlink() and os.readlink(place) == str(target):
            place.unlink()
        else:
            place.parent.mkdir(parents=True, exist_ok=True)
            place = place.parent / free_name(place.parent, place.name, is_folder=True)
        _acl(target, ["-b"])  # the members' entries go from what this account owns
        _move(target, place)
        self.client.folder_close(folder_id)
        self._forget(folder_id)
        return place.relative_to(self.workspace).as_posix()

    def colleague_path(self, path, colleague):
        """Where `colleague` finds this workspace's `path` in their own workspace (under shared/),
        when it lies in a folder shared live with them; else None."""
        path = path.strip("/")
        for folder in self.client.folders()["folders"]:
            if folder["state"] != "shared" or folder["owner"] != self.user or colleague not in folder["members"]:
                continue
            if path == folder["path"] or path.startswith(folder["path"] + "/"):
                rest = path[len(folder["path"]) :]
                return f"{LINKS}/{_safe_name(folder['owner'])}/{_safe_name(folder['name'])}{rest}"
        return None

    # --- every member's side ----------------------------------------------------------------
    def sync(self):
        """Keep up with the service: links to what is shared with this user (and none to what
        is not any more), and access to this account's files for each folder's members."""
        listing = self.client.folders()
        folders = [f for f in listing["folders"] if f["state"] == "shared"]
        try:
            self._link(f for f in folders if f["owner"] != self.user)
            self._unlink_stale(listing.get("space"), {f["target"] for f in folders})
        except OSError as e:  # the workspace's shared/ is not as this expects: say so, list anyway
            log.warning("cygnet: links to folders shared live not kept up: %s", e)
        applied = self._applied()
        for gone in set(applied) - {f["id"] for f in folders}:
            del applied[gone]
        for folder in folders:
            if applied.get(folder["id"]) != _members(folder):
                try:
                    self._give_access(folder, applied)
                except CygnetError as e:  # tried again at the next look
                    log.warning("cygnet: access to %s not given to its members: %s", folder["name"], e)
        self._save(applied)
        return listing

    def _link(self, shared_with_me):
        for folder in shared_with_me:
            owner = _safe_name(folder["owner"])
            link = self.workspace / LINKS / owner / _safe_name(folder["name"])
            if link.is_symlink() and os.readlink(link) == folder["target"]:
                continue
            if link.exists() or link.is_symlink():
                log.warning("cygnet: %s is taken, so the folder %s shared with you is not linked there", link, owner)
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(folder["target"], link, target_is_directory=True)

    def _unlink_stale(self, space, targets):
        """Links under shared/ into the space that no longer lead to a folder shared with us."""
        base = self.workspace / LINKS
        if not space or not base.is_dir() or base.is_symlink():
            return
        prefix = space.rstrip("/") + "/"
        for owner in list(base.iterdir()):
            if owner.is_symlink() or not owner.is_dir():
                continue
            for link in list(owner.iterdir()):
                if link.is_symlink() and os.readlink(link).startswith(prefix) and os.readlink(link) not in targets:
                    link.unlink()
            _remove_if_empty(owner)
        _remove_if_empty(base)

    def _give_access(self, folder, applied=None):
        """This account's files in `folder` let its members in (the owner read-write, each
        colleague as granted), new files too; members who left lose their entries."""
        applied = self._applied() if applied is None else applied
        members = _members(folder)
        gone = set(applied.get(folder["id"], {})) - set(members)
        entries = []
        for user, mode in members.items():
            uid = _uid(user)  # the owner too: a colleague's new files must let the owner in
            if uid is None:
                continue
            perms = "rwX" if mode == "rw" else "r-X"
            entries += [f"u:{uid}:{perms}", f"d:u:{uid}:{perms.replace('X', 'x')}"]
        removed = [f"u:{uid},d:u:{uid}" for uid in map(_uid, gone) if uid is not None and uid != os.getuid()]
        target = Path(folder["target"])
        if removed:
            _acl(target, ["-x", ",".join(removed)])
        if entries:
            _acl(target, ["-m", ",".join(entries + ["d:u::rwx", "d:g::---", "d:o::---"])])
        applied[folder["id"]] = members
        self._save(applied)

    # --- what was applied, kept across restarts -----------------------------------------------
    def _applied(self):
        try:
            data = json.loads(self.state_file.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save(self, applied):
        try:
            atomic_write(self.state_file, json.dumps(applied), mode=0o600)
        except OSError as e:
            log.debug("cygnet: live folders' state not kept: %s", e)

    def _forget(self, folder_id):
        applied = self._applied()
        if applied.pop(folder_id, None) is not None:
            self._save(applied)


def _members(folder):
    """Everyone with access: the owner (read-write) and the colleagues as granted."""
    return {folder["owner"]: "rw", **folder.get("members", {})}


def _uid(user):
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _safe_name(name):
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise CygnetError(f"the share service named a folder {str(name)[:80]!r}, which is no file name")
    return name


def _move(source, target):
    try:
        os.rename(source, target)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        shutil.move(str(source), str(target))  # the space is on another file system: a copy


def _remove_if_empty(folder):
    try:
        folder.rmdir()
    except OSError:
        pass


def _acl(target, args):
    """setfacl on this account's files under `target` (a physical walk: links are not followed).
    Files of other members are theirs to change; setfacl's refusals on them are expected."""
    try:
        done = subprocess.run(
            ["setfacl", "-R", "-P", *args, str(target)], capture_output=True, text=True, timeout=600, check=False
        )
    except FileNotFoundError:
        raise MissingTool("setfacl is not installed in this session (Debian's acl package)") from None
    problems = [line for line in done.stderr.splitlines() if "Operation not permitted" not in line]
    if done.returncode and problems:
        raise Unavailable(f"setfacl failed: {problems[0][:300]}")
