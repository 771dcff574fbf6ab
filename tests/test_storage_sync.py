"""The sync engine against a local box, a real WebDAV server (wsgidav, basic auth) and a real
XRootD server (Debian's xrootd, standing in for EOS)."""

import os
import signal
import subprocess
import time
import uuid

import pytest

from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.storage import sync as sync_api
from cygnet.storage.sync_engine import sync
from tests.support.cli import cygnet
from tests.support.jupyter import VENV_BIN


@pytest.fixture(params=["local", "webdav", "xrootd"])
def box(request, tmp_path, monkeypatch):
    """(dest URL, the folder where its files really are on disk)."""
    name = f"box-{uuid.uuid4().hex[:8]}"
    if request.param == "local":
        yield str(tmp_path / name), tmp_path / name
    elif request.param == "webdav":
        dav = request.getfixturevalue("webdav")
        for key, value in dav["env"].items():
            monkeypatch.setenv(key, value)
        yield f"{dav['url']}/{name}", dav["root"] / name
    else:
        eos = request.getfixturevalue("eos_server")
        # What the tests write straight into the box must stay writable for the server's user.
        umask = os.umask(0)
        try:
            yield f"{eos.url}//{name}", eos.data / name
        finally:
            os.umask(umask)


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "results"
    write(folder / "a.txt", "alpha")
    write(folder / "plots" / "p.png", os.urandom(200_000))
    write(folder / "nb.ipynb", '{"cells": []}')
    write(folder / ".ipynb_checkpoints" / "nb-checkpoint.ipynb", "{}")
    return folder


def write(path, content, bump=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    if bump:  # a later mtime, as an edit seconds later would have
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 10**9))


def same_tree(src, dest):
    files = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    copied = {p.relative_to(dest) for p in dest.rglob("*") if p.is_file()}
    assert copied == files
    for rel in files:
        assert (dest / rel).read_bytes() == (src / rel).read_bytes(), rel
    return True


def test_first_sync_then_no_op(src, box, tmp_path):
    dest, on_disk = box
    first = sync(src, dest, data_dir=tmp_path / "data")
    assert (first.copied, first.skipped, first.conflicts) == (3, 0, [])
    assert first.bytes == 200_000 + len("alpha") + len('{"cells": []}')
    assert same_tree(src, on_disk)
    again = sync(src, dest, data_dir=tmp_path / "data")
    assert (again.copied, again.skipped, again.bytes) == (0, 3, 0)


def test_a_first_sync_into_a_new_box_folder_asks_about_no_file_and_still_records_versions(
    src, box, tmp_path, monkeypatch
):
    """Nothing is in a folder the box does not have: no stat per file before sending it, and
    the versions recorded from one listing per folder still tell a later box edit apart."""
    from cygnet.storage.box import FsspecBox
    from cygnet.storage.xrootd_box import XRootDBox

    dest, on_disk = box
    asked = []
    for cls in (FsspecBox, XRootDBox):
        real = cls.stat
        monkeypatch.setattr(cls, "stat", lambda self, rel, real=real: asked.append(rel) or real(self, rel))
    first = sync(src, dest, data_dir=tmp_path / "data")
    assert (first.copied, first.conflicts, asked) == (3, [], [])
    assert same_tree(src, on_disk)
    write(on_disk / "a.txt", "edited in the box", bump=5)
    write(src / "a.txt", "edited here too", bump=10)
    again = sync(src, dest, data_dir=tmp_path / "data")
    assert [c["path"] for c in again.conflicts] == ["a.txt"], "the box's edit was seen"


def test_same_size_edit_is_synced_and_a_touch_is_not(src, box, tmp_path):
    dest, on_disk = box
    sync(src, dest, data_dir=tmp_path / "data")
    write(src / "a.txt", "alphb", bump=1)  # same size, new content
    os.utime(src / "nb.ipynb")  # touched only
    result = sync(src, dest, data_dir=tmp_path / "data")
    assert (result.copied, result.skipped) == (1, 2)
    assert (on_disk / "a.txt").read_text() == "alphb"


def test_large_files_hashed_while_they_upload_still_tell_a_touch_from_an_edit(box, tmp_path):
    dest, on_disk = box
    src = tmp_path / "large"
    big = os.urandom(9 << 20)  # above sync_engine.LARGE: sent one at a time, hashed as sent or beside the upload
    write(src / "big.bin", big)
    write(src / "small.txt", "s")
    assert sync(src, dest, data_dir=tmp_path / "data").copied == 2
    os.utime(src / "big.bin")  # touched only
    assert (sync(src, dest, data_dir=tmp_path / "data").copied) == 0
    write(src / "big.bin", big[:-1] + bytes([big[-1] ^ 1]), bump=1)  # same size, last byte changed
    result = sync(src, dest, data_dir=tmp_path / "data")
    assert (result.copied, result.bytes) == (1, len(big))
    assert same_tree(src, on_disk)


def test_a_webdav_upload_cut_off_and_sent_again_is_hashed_from_its_second_send(webdav, tmp_path, monkeypatch):
    """A WebDAV box hashes a file from the bytes it sends: a send cut off half-way (a lost
    connection, retried) must not leave its half in the digest, or a later touch would look
    like an edit and the file would go again."""
    from cygnet.storage.box import WebDAVBox

    for key, value in webdav["env"].items():
        monkeypatch.setenv(key, value)
    src = tmp_path / "src"
    write(src / "big.bin", os.urandom(9 << 20))
    real_put, cut = WebDAVBox._put, []

    def put_cut_off_once(self, local_path, target, hashed=None):
        if not cut:
            cut.append(target)
            if hashed is not None:
                hashed.update(b"half of what was read before the connection went")
            raise Unavailable("the box: ConnectError: connection reset")  # transient: retried
        return real_put(self, local_path, target, hashed)

    monkeypatch.setattr(WebDAVBox, "_put", put_cut_off_once)
    dest = f"{webdav['url']}/box-{uuid.uuid4().hex[:8]}"
    assert sync(src, dest, data_dir=tmp_path / "data").copied == 1
    assert cut, "the first send was cut off"
    os.utime(src / "big.bin")  # touched only
    assert sync(src, dest, data_dir=tmp_path / "data").copied == 0


def test_delete_propagates_only_when_asked_and_only_what_we_put_there(src, box, tmp_path):
    dest, on_disk = box
    sync(src, dest, data_dir=tmp_path / "data")
    write(on_disk / "someone-elses.txt", "not ours")
    (src / "a.txt").unlink()
    assert sync(src, dest, data_dir=tmp_path / "data").deleted == 0
    assert (on_disk / "a.txt").exists()
    result = sync(src, dest, delete=True, data_dir=tmp_path / "data")
    assert result.deleted == 1 and not (on_disk / "a.txt").exists()
    assert (on_disk / "someone-elses.txt").read_text() == "not ours"


def test_a_file_changed_on_both_sides_keeps_both(src, box, tmp_path):
    dest, on_disk = box
    sync(src, dest, data_dir=tmp_path / "data")
    time.sleep(1.1)  # WebDAV etags may carry whole seconds
    write(on_disk / "a.txt", "edited in the box")
    write(src / "a.txt", "edited here", bump=1)
    result = sync(src, dest, data_dir=tmp_path / "data")
    assert len(result.conflicts) == 1 and result.conflicts[0]["path"] == "a.txt"
    assert (on_disk / "a.txt").read_text() == "edited here"
    assert (on_disk / result.conflicts[0]["kept_as"]).read_text() == "edited in the box"


def test_a_box_file_that_was_never_ours_is_not_overwritten(src, box, tmp_path):
    dest, on_disk = box
    write(on_disk / "a.txt", "already in the box, different")
    write(on_disk / "nb.ipynb", '{"cells": []}')  # identical: adopted, not sent
    result = sync(src, dest, data_dir=tmp_path / "data")
    assert [c["path"] for c in result.conflicts] == ["a.txt"]
    assert (on_disk / result.conflicts[0]["kept_as"]).read_text() == "already in the box, different"
    assert result.skipped == 1


def test_delete_leaves_a_file_changed_in_the_box(src, box, tmp_path):
    dest, on_disk = box
    sync(src, dest, data_dir=tmp_path / "data")
    time.sleep(1.1)
    write(on_disk / "a.txt", "changed in the box")
    (src / "a.txt").unlink()
    result = sync(src, dest, delete=True, data_dir=tmp_path / "data")
    assert result.left_in_box == ["a.txt"] and result.deleted == 0
    assert (on_disk / "a.txt").read_text() == "changed in the box"


def test_dry_run_writes_nothing(src, box, tmp_path):
    dest, on_disk = box
    result = sync(src, dest, dry_run=True, data_dir=tmp_path / "data")
    assert result.would_copy == ["a.txt", "nb.ipynb", "plots/p.png"]
    assert not on_disk.exists()
    assert sync_api(src, dest, data_dir=tmp_path / "data")["copied"] == 3  # the Python API


@pytest.mark.parametrize("kind", ["webdav", "xrootd"])
def test_crash_mid_sync_then_rerun_completes_with_no_partial_files(tmp_path, request, kind):
    src = tmp_path / "many"
    for i in range(400):
        write(src / f"d{i % 8}" / f"f{i:03d}.bin", os.urandom(150_000))
    name = f"crash-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "CYGNET_DATA_DIR": str(tmp_path / "data")}
    if kind == "webdav":
        dav = request.getfixturevalue("webdav")
        dest, on_disk = f"{dav['url']}/{name}", dav["root"] / name
        env.update(dav["env"])
    else:
        eos = request.getfixturevalue("eos_server")
        dest, on_disk = f"{eos.url}//{name}", eos.data / name
    proc = subprocess.Popen(
        [str(VENV_BIN / "cygnet"), "sync", str(src), dest],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(on_disk.rglob("*.bin"))) < 40:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(on_disk.rglob("*.bin"))) < 400, "the first run was killed part-way"
    result = cygnet("sync", str(src), dest, env=env)
    assert result.returncode == 0, result.stderr
    assert same_tree(src, on_disk)
    assert not [p for p in on_disk.rglob("*") if ".cygnet-partial-" in p.name]


@pytest.mark.parametrize(
    "make_dest, error, words",
    [
        (lambda t, w: str(t / "box"), NotFound, "is not a folder"),  # src missing, below
        (lambda t, w: "webdav://alice:pw@127.0.0.1:1/box", BadInput, "not in the URL"),
        (lambda t, w: "ftp://example.org/box", BadInput, "a box is a local folder, a webdav"),
        (lambda t, w: "webdav://127.0.0.1:1/box", Unavailable, "the box webdav://127.0.0.1:1/box"),
        (lambda t, w: "root://alice:pw@127.0.0.1:1//box", BadInput, "carries no password"),
        (lambda t, w: "root://127.0.0.1:1//box", Unavailable, "root://127.0.0.1:1//box.*did not answer"),
    ],
)
def test_bad_input_and_unreachable_boxes_give_clear_errors(tmp_path, webdav, make_dest, error, words):
    src = tmp_path / ("absent" if error is NotFound else "src")
    if error is not NotFound:
        write(src / "x.txt", "x")
    with pytest.raises(error, match=words):
        sync(src, make_dest(tmp_path, webdav), data_dir=tmp_path / "data")


def test_wrong_password_is_reported(tmp_path, webdav, monkeypatch):
    write(tmp_path / "src" / "x.txt", "x")
    monkeypatch.setenv("CYGNET_BOX_USER", "alice")
    monkeypatch.setenv("CYGNET_BOX_PASSWORD", "wrong")
    with pytest.raises(Unavailable, match="401"):
        sync(tmp_path / "src", f"{webdav['url']}/box", data_dir=tmp_path / "data")


def test_cli_summary_and_exit_codes(src, tmp_path):
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data")}
    first = cygnet("sync", str(src), str(tmp_path / "box"), env=env)
    assert first.returncode == 0 and first.stdout.startswith("copied 3, skipped 0, deleted 0, conflicts 0")
    dry = cygnet("sync", str(src), str(tmp_path / "box2"), "--dry-run", env=env)
    assert "would copy   plots/p.png" in dry.stdout
    missing = cygnet("sync", str(tmp_path / "nope"), str(tmp_path / "box"), env=env)
    assert missing.returncode == 3 and "is not a folder" in missing.stderr
    default_box = cygnet("sync", str(src), "--json", env=env)
    assert default_box.returncode == 0 and (tmp_path / "data" / "box" / "a.txt").exists()


# --- the REST face: POST /cygnet/api/sync, GET /cygnet/api/sync/{id} ---------------------
def wait_for_job(server, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.get(f"/cygnet/api/sync/{job_id}").json()
        if job["state"] not in ("queued", "running"):  # a busy machine may not have started it yet
            return job
        time.sleep(0.1)
    raise TimeoutError(job)


def test_sync_job_mirrors_a_workspace_folder_into_the_box(server):
    folder = f"results-{uuid.uuid4().hex[:6]}"
    write(server.root / folder / "h.txt", "histogram")
    write(server.root / folder / "sub" / "fit.json", '{"chi2": 1.02}')
    r = server.post("/cygnet/api/sync", json={"src": folder, "dest": f"runs/{folder}"})
    assert r.status_code == 202, r.text
    job = wait_for_job(server, r.json()["id"])
    assert job["state"] == "done", job
    assert job["summary"]["copied"] == 2 and job["progress"]["files_done"] == 2
    assert same_tree(server.root / folder, server.data_dir / "box" / "runs" / folder)


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"src": "../outside"}, 400, "must stay inside the workspace"),
        ({"src": "/etc"}, 400, "must stay inside the workspace"),
        ({"src": "no-such-folder"}, 404, "is not a folder of the workspace"),
        ({"src": ".", "dest": "../../elsewhere"}, 400, "must stay inside the box"),
        (["not", "an", "object"], 400, 'the body must be a JSON object with "src"'),
        ({"src": ".", "delete": "no"}, 400, "delete must be true or false, not a string"),
        ({"src": ".", "dest": 5}, 400, "dest must be a string, not a number"),
        ({"src": ".", "dest": ["a"]}, 400, "dest must be a string, not a list"),
        ({"src": ".", "dest": ".cygnet-shares"}, 400, "where Cygnet keeps share snapshots"),
        ({"src": "x" * 100000}, 400, "src is too long"),
    ],
)
def test_sync_job_refuses_paths_outside_and_bad_bodies(server, body, status, words):
    r = server.post("/cygnet/api/sync", json=body)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_unknown_job_and_login(server):
    assert server.get(f"/cygnet/api/sync/{'0' * 32}").status_code == 404
    import requests

    assert requests.post(f"{server.url}/cygnet/api/sync", json={"src": "."}, timeout=10).status_code == 403
