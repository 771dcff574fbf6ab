"""A file's history: the versions a sync keeps in the box when it replaces or deletes a file
(cygnet.storage.versions) on a local box, a real WebDAV server and a real XRootD server; and the
History API (checkpoints and box versions, diffs, restore) on a real server."""

import json
import uuid

import pytest

from cygnet.storage.sync_engine import sync
from cygnet.storage.versions import FOLDER
from tests.support.waiting import wait_for
from tests.test_storage_sync import box, write  # noqa: F401 - box is a fixture

NOTEBOOK = {
    "cells": [{"cell_type": "code", "id": "c0", "metadata": {}, "outputs": [], "execution_count": None, "source": ""}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def notebook(source):
    nb = json.loads(json.dumps(NOTEBOOK))
    nb["cells"][0]["source"] = source
    return json.dumps(nb)


def kept(on_disk, rel):
    folder = on_disk / FOLDER / rel
    return [p.read_text() for p in sorted(folder.iterdir())] if folder.is_dir() else []


def test_a_sync_keeps_the_newest_previous_versions_of_a_changed_or_deleted_file(box, tmp_path):  # noqa: F811
    dest, on_disk = box
    src, data = tmp_path / "results", tmp_path / "data"
    for n, text in enumerate(["first", "second", "third", "fourth"]):
        write(src / "fit" / "chi2.txt", text, bump=n)
        write(src / "stays.txt", "unchanged")
        summary = sync(src, dest, data_dir=data, versions=2)
        assert summary.copied == (2 if n == 0 else 1), summary
    assert (on_disk / "fit" / "chi2.txt").read_text() == "fourth"
    assert kept(on_disk, "fit/chi2.txt") == ["second", "third"]  # the newest two previous ones
    assert kept(on_disk, "stays.txt") == []  # never replaced: no version
    # A deleted file's last copy becomes its newest version.
    (src / "fit" / "chi2.txt").unlink()
    assert sync(src, dest, delete=True, data_dir=data, versions=2).deleted == 1
    assert not (on_disk / "fit" / "chi2.txt").exists()
    assert kept(on_disk, "fit/chi2.txt") == ["third", "fourth"]
    # The versions are the box's: a sync of the box folder back out never sends them as files.
    back = sync(on_disk, str(tmp_path / "copy-of-box"), data_dir=data)
    assert back.copied == 1 and not (tmp_path / "copy-of-box" / FOLDER).exists()


def test_no_versions_when_the_site_keeps_none(tmp_path):
    src, box_dir, data = tmp_path / "src", str(tmp_path / "box"), tmp_path / "data"
    write(src / "a.txt", "one")
    sync(src, box_dir, data_dir=data, versions=0)
    write(src / "a.txt", "two", bump=1)
    sync(src, box_dir, data_dir=data, versions=0)
    assert not (tmp_path / "box" / FOLDER).exists()


# --- the History API ------------------------------------------------------------------------------
def synced(server, folder):
    r = server.post("/cygnet/api/sync", json={"src": folder, "dest": folder})
    assert r.status_code == 202, r.text
    url = f"/cygnet/api/sync/{r.json()['id']}"

    def ended():
        job = server.get(url).json()
        return job if job["state"] not in ("queued", "running") else None

    job = wait_for(ended, "the sync job's end", timeout=120)
    assert job["state"] == "done", job


def history(server, path):
    r = server.get("/cygnet/api/history", params={"path": path})
    assert r.status_code == 200, r.text
    return r.json()["versions"]


def test_history_lists_checkpoints_and_box_versions_diffs_them_and_restores_one(server):
    folder = f"analysis-{uuid.uuid4().hex[:6]}"
    path = f"{folder}/fit.ipynb"
    write(server.root / path, notebook("fit(model='gauss')"))
    synced(server, folder)
    write(server.root / path, notebook("fit(model='crystal ball')"), bump=1)
    synced(server, folder)  # the box keeps the gauss version
    assert server.post(f"/api/contents/{path}/checkpoints").status_code == 201  # crystal ball, checkpointed
    write(server.root / path, notebook("fit(model='landau')"), bump=2)

    versions = history(server, path)
    assert [v["source"] for v in versions] == ["checkpoint", "box"], versions
    box_version = "box:" + versions[1]["id"]
    assert versions[1]["id"].startswith(f"{folder}/") and versions[1]["size"] > 0
    diff = server.get("/cygnet/api/history/diff", params={"path": path, "a": box_version}).json()["diff"]
    assert "gauss" in diff and "landau" in diff and "modified /cells/0/source" in diff, diff
    r = server.get("/cygnet/api/history/diff", params={"path": path, "a": box_version, "b": "checkpoint:checkpoint"})
    assert r.status_code == 200, r.text
    between = r.json()["diff"]
    assert "gauss" in between and "crystal ball" in between and "landau" not in between

    r = server.post("/cygnet/api/history/restore", json={"path": path, "version": box_version})
    assert r.status_code == 200, r.text
    assert "gauss" in (server.root / path).read_text()
    # The file as it was before the restore is now the checkpoint: the restore can be undone.
    undo = server.post("/cygnet/api/history/restore", json={"path": path, "version": "checkpoint:checkpoint"})
    assert undo.status_code == 200, undo.text
    assert "landau" in (server.root / path).read_text()


@pytest.mark.parametrize(
    "method, route, args, status, words",
    [
        ("get", "/cygnet/api/history", {"path": "../etc/passwd"}, 400, "must stay inside the workspace"),
        ("get", "/cygnet/api/history", {"path": "no-such-file.ipynb"}, 404, "is not a file of the workspace"),
        ("get", "/cygnet/api/history/diff", {"path": "FILE"}, 400, "a is required"),
        ("get", "/cygnet/api/history/diff", {"path": "FILE", "a": "yesterday"}, 400, "a version is current"),
        ("get", "/cygnet/api/history/diff", {"path": "FILE", "a": "box:../../x"}, 400, "not the id of a version"),
        ("get", "/cygnet/api/history/diff", {"path": "FILE", "a": "box:20260101T000000.000000Z"}, 404, "no sync put"),
        ("get", "/cygnet/api/history/diff", {"path": "FILE", "a": "checkpoint:nope"}, 404, "has no checkpoint"),
        ("post", "/cygnet/api/history/restore", {"path": "FILE"}, 400, "version"),
        ("post", "/cygnet/api/history/restore", {"path": "FILE", "version": "current"}, 400, "already the file"),
    ],
)
def test_history_answers_bad_input_with_its_cause(server, method, route, args, status, words):
    # in a folder of its own: looking for checkpoints makes .ipynb_checkpoints beside the file,
    # and the shared server's top folder must stay as other tests expect it
    name = f"plain-{uuid.uuid4().hex[:6]}/notes.txt"
    write(server.root / name, "text")
    args = {k: (name if v == "FILE" else v) for k, v in args.items()}
    r = server.get(route, params=args) if method == "get" else server.post(route, json=args)
    assert r.status_code == status and words in r.json()["message"], r.text
