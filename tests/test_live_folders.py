"""The hub's side of live shared folders (cygnet.shares.folders) in process: the records, who may
do what, and the door of each folder (root's, with an ACL naming who passes). Two system accounts
that every Debian has (daemon, nobody) stand for users; the sessions' side, with real accounts
and a real hub, is in test_hub_isolation. Needs root and setfacl, as the service does."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.shares.folders import Forbidden, SharedFolders
from cygnet.shares.session import Conflict

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setfacl"), reason="needs root and setfacl")
OWNER, COLLEAGUE = "daemon", "nobody"


@pytest.fixture
def folders(tmp_path):
    parent = Path(tempfile.mkdtemp(prefix="cygnet-space-"))
    os.chmod(parent, 0o711)
    yield SharedFolders(str(tmp_path / "shares.sqlite"), parent / "space")
    shutil.rmtree(parent, ignore_errors=True)


def acl(path):
    out = subprocess.run(["getfacl", "-n", "-p", str(path)], capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines() if line and not line.startswith("#")}


def uid(name):
    import pwd

    return pwd.getpwnam(name).pw_uid


def test_a_door_lets_the_owner_in_and_colleagues_through_and_closes_on_revoke(folders):
    folder = folders.create(OWNER, "data", "work/data", [COLLEAGUE])
    door = Path(folder.target).parent
    assert folder.target == str(folders.space / folder.id / "data") and folder.members == {COLLEAGUE: "rw"}
    assert os.stat(folders.space).st_mode & 0o777 == 0o711  # anyone passes, nobody lists
    assert os.stat(door).st_uid == 0 and os.stat(door).st_mode & 0o007 == 0
    assert {f"user:{uid(OWNER)}:rwx", f"user:{uid(COLLEAGUE)}:--x"} <= acl(door)
    assert [f.id for f in folders.list_for(COLLEAGUE)] == [folder.id] == [f.id for f in folders.list_for(OWNER)]
    assert folders.list_for("root") == []

    folders.revoke(folder.id, OWNER, COLLEAGUE)
    assert not any(line.startswith(f"user:{uid(COLLEAGUE)}:") for line in acl(door))
    assert folders.list_for(COLLEAGUE) == []
    folders.grant(folder.id, OWNER, COLLEAGUE, "ro")
    assert folders.get(folder.id, COLLEAGUE).members == {COLLEAGUE: "ro"}


def test_only_the_owner_changes_a_folder_and_bad_requests_are_named(folders):
    folder = folders.create(OWNER, "data", "data", [COLLEAGUE])
    with pytest.raises(Forbidden, match=f"only {OWNER}"):
        folders.grant(folder.id, COLLEAGUE, "root")
    with pytest.raises(Forbidden):
        folders.close(folder.id, COLLEAGUE)
    with pytest.raises(NotFound):
        folders.get(folder.id, "root")  # not a member: as if it did not exist
    with pytest.raises(Conflict, match="already shared with"):
        folders.grant(folder.id, OWNER, COLLEAGUE)
    with pytest.raises(Conflict, match="already shared"):
        folders.create(OWNER, "data", "data", [COLLEAGUE])
    with pytest.raises(NotFound, match="not shared with root"):
        folders.revoke(folder.id, OWNER, "root")
    with pytest.raises(BadInput, match="yourself"):
        folders.create(OWNER, "x", "x", [OWNER])
    with pytest.raises(NotFound, match="no account"):
        folders.create(OWNER, "x", "x", ["no-such-account-here"])
    for name, path, mode in [
        ("a/b", "x", "rw"),
        ("..", "x", "rw"),
        ("x", "/etc", "rw"),
        ("x", "a/../../b", "rw"),
        ("x", "x", "rwx"),
    ]:
        with pytest.raises(BadInput):
            folders.create(OWNER, name, path, [COLLEAGUE], mode)


def test_stopping_cuts_everyone_off_and_forgets_the_folder_once_it_is_moved_out(folders):
    folder = folders.create(OWNER, "data", "data", [COLLEAGUE])
    target = Path(folder.target)
    target.mkdir()  # the owner's session moved it in
    closed = folders.close(folder.id, OWNER)
    assert closed is not None and closed.state == "closed" and closed.members == {}
    assert not any(line.startswith(f"user:{uid(COLLEAGUE)}:") for line in acl(target.parent))
    assert folders.list_for(COLLEAGUE) == []
    with pytest.raises(Conflict):
        folders.grant(folder.id, OWNER, COLLEAGUE)
    target.rmdir()  # ... and back out
    assert folders.close(folder.id, OWNER) is None
    assert not target.parent.exists() and folders.list_for(OWNER) == []


def test_a_space_users_cannot_reach_is_named(tmp_path):
    private = tmp_path / "private"  # pytest's folders are root's alone
    folders = SharedFolders(str(tmp_path / "shares.sqlite"), private / "space")
    with pytest.raises(Unavailable, match="cannot reach"):
        folders.create(OWNER, "data", "data", [COLLEAGUE])
    with pytest.raises(Unavailable, match="a Unix account per hub user"):
        folders.check_available("no-such-account-here")
    with pytest.raises(Unavailable, match="shares no folders live"):
        SharedFolders(str(tmp_path / "s2.sqlite"), "").check_available()
