"""EOS-style storage against Debian's real xrootd server on 127.0.0.1."""

import json
import os
import threading
import time

import pytest

from cygnet import storage
from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.storage import xrootd
from tests.support.cli import cygnet
from tests.support.jupyter import free_port
from tests.support.xrootd import XRootDServer


@pytest.fixture(scope="module")
def eos(tmp_path_factory):
    server = XRootDServer(tmp_path_factory.mktemp("xrootd")).start()
    yield server
    server.close()


def test_write_read_list_stat_remove(eos):
    folder = f"{eos.url}//eos/user/a/alice/run1"
    storage.mkdir(folder)
    with storage.open(f"{folder}/notes.txt", "w") as f:
        f.write("pt > 20 GeV\n")
    with storage.open(f"{folder}/notes.txt", "r") as f:
        assert f.read() == "pt > 20 GeV\n"
    data = os.urandom(3 * xrootd.CHUNK + 12345)
    with storage.open(f"{folder}/events.bin", "wb") as f:
        f.write(data)
    with storage.open(f"{folder}/events.bin") as f:
        assert f.read() == data  # whole read, chunks in flight
        f.seek(xrootd.CHUNK - 2)
        assert f.read(4) == data[xrootd.CHUNK - 2 : xrootd.CHUNK + 2]
        assert f.read_ranges([(0, 3), (len(data) - 3, 3)]) == [data[:3], data[-3:]]
    assert [(e["name"], e["type"]) for e in storage.ls(folder)] == [("events.bin", "file"), ("notes.txt", "file")]
    info = storage.stat(f"{folder}/events.bin")
    assert info["size"] == len(data) and info["type"] == "file"
    assert storage.stat(folder)["type"] == "directory"
    storage.rm(f"{folder}/notes.txt")
    with pytest.raises(NotFound, match="notes.txt: no such file"):
        storage.stat(f"{folder}/notes.txt")


def test_copies_both_ways_are_exact_and_atomic(eos, tmp_path):
    data = os.urandom(20 << 20)
    (tmp_path / "in.bin").write_bytes(data)
    seen = []
    assert storage.copy(
        str(tmp_path / "in.bin"),
        f"{eos.url}//eos/copy/in.bin",
        parallel=3,
        progress=lambda done, total: seen.append((done, total)),
    ) == len(data)
    assert seen[-1] == (len(data), len(data))
    assert storage.copy(f"{eos.url}//eos/copy/in.bin", str(tmp_path / "out.bin")) == len(data)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert not [n for n in os.listdir(tmp_path) if xrootd.TEMP_MARK in n]
    assert not [e for e in storage.ls(f"{eos.url}//eos/copy") if xrootd.TEMP_MARK in e["name"]]


def test_relative_paths_mean_the_eos_home(eos, monkeypatch):
    monkeypatch.setenv("CYGNET_STORAGE_ENDPOINT", eos.url)
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    assert storage.home() == f"{eos.url}//eos/user/b/bob"
    storage.mkdir("analysis")
    with storage.open("analysis/h.txt", "w") as f:
        f.write("x")
    assert (eos.data / "eos/user/b/bob/analysis/h.txt").read_text() == "x"


def test_pandas_reads_root_urls_through_fsspec(eos):
    pandas = pytest.importorskip("pandas")
    url = eos.put("/eos/table.csv", b"pt,eta\n21.5,0.3\n40.1,-1.2\n")
    frame = pandas.read_csv(url)
    assert list(frame.columns) == ["pt", "eta"] and frame["pt"].sum() == pytest.approx(61.6)


@pytest.mark.parametrize(
    "url, error, words",
    [
        ("http://host/x", BadInput, "not an XRootD URL"),
        ("root:///no-host", BadInput, "not an XRootD URL"),
        ("root://host:notaport//x", BadInput, "bad port"),
        ("root://host//a/../../etc/passwd", BadInput, "'..' is not allowed"),
    ],
)
def test_malformed_urls_are_refused(url, error, words):
    with pytest.raises(error, match=words):
        storage.stat(url)


def test_a_server_that_is_down_fails_fast_with_the_url_named():
    url = f"root://127.0.0.1:{free_port()}//eos/x"
    started = time.monotonic()
    with pytest.raises(Unavailable, match=f"{url}.*did not answer"):
        storage.stat(url)
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_a_copy_cut_off_by_a_server_crash_leaves_nothing_and_can_be_rerun(eos, tmp_path, direction):
    data = os.urandom(12 * xrootd.CHUNK)
    local, remote = tmp_path / "data.bin", f"{eos.url}//eos/crash/{direction}.bin"
    if direction == "upload":
        local.write_bytes(data)
        src, dst = str(local), remote
    else:
        eos.put(f"/eos/crash/{direction}.bin", data)
        src, dst = remote, str(tmp_path / "copy.bin")
    stopped = threading.Event()

    def crash(done, total):
        if not stopped.is_set():
            stopped.set()
            eos.stop()  # the server dies after the first chunk landed

    with pytest.raises(Unavailable):
        storage.copy(src, dst, parallel=1, progress=crash)
    eos.restart()
    if direction == "upload":
        with pytest.raises(NotFound):
            storage.stat(dst)  # nothing under the final name
    else:
        assert not os.path.exists(dst) and not [n for n in os.listdir(tmp_path) if xrootd.TEMP_MARK in n]
    assert storage.copy(src, dst) == len(data)
    if direction == "upload":
        assert (eos.data / "eos/crash/upload.bin").read_bytes() == data
        assert not [e for e in storage.ls(f"{eos.url}//eos/crash") if xrootd.TEMP_MARK in e["name"]]
    else:
        assert (tmp_path / "copy.bin").read_bytes() == data


def test_cli_ls_stat_cp_and_exit_codes(eos, tmp_path):
    url = eos.put("/eos/cli/a.txt", b"alpha")
    listed = cygnet("storage", "ls", "--json", f"{eos.url}//eos/cli")
    assert listed.returncode == 0 and [e["name"] for e in json.loads(listed.stdout)] == ["a.txt"]
    assert "file 5 bytes" in cygnet("storage", "stat", url).stdout
    copied = cygnet("storage", "cp", url, str(tmp_path / "a.txt"), "--json")
    assert copied.returncode == 0 and json.loads(copied.stdout)["bytes"] == 5
    assert (tmp_path / "a.txt").read_bytes() == b"alpha"
    missing = cygnet("storage", "stat", f"{eos.url}//eos/cli/nope")
    assert missing.returncode == 3 and "no such file" in missing.stderr
    bad = cygnet("storage", "ls", "root:///x")
    assert bad.returncode == 2 and "not an XRootD URL" in bad.stderr


def test_the_storage_api_in_a_kernel_reaches_the_users_eos_home(eos, spark_view, tmp_path):
    from tests.support.cli import PLATFORM
    from tests.support.jupyter import JupyterServer

    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(spark_view), "JUPYTERHUB_USER": "carol"}
    with JupyterServer(env=env, root=tmp_path, args=[f"--Cygnet.storage_endpoint={eos.url}"]) as server:
        kernel = server.kernel(f"sparktest__{PLATFORM}".lower())
        try:
            out = kernel.run(
                "from cygnet import storage\n"
                "storage.mkdir('results')\n"
                "with storage.open('results/fit.txt', 'w') as f:\n"
                "    f.write('chi2=1.02')\n"
                "print(storage.home())\n"
                "print([e['name'] for e in storage.ls('results')])\n"
                "import pandas\n"
                "print(pandas.read_csv(storage.home() + '/results/fit.txt', header=None)[0][0])"
            )
        finally:
            kernel.shutdown()
    assert out.splitlines() == [f"{eos.url}//eos/user/c/carol", "['fit.txt']", "chi2=1.02"]
    assert (eos.data / "eos/user/c/carol/results/fit.txt").read_text() == "chi2=1.02"


def test_the_file_browser_shows_eos_and_saves_notebooks_back_atomically(eos, tmp_path):
    from tests.support.jupyter import JupyterServer

    eos.put("/eos/user/d/dana/plots/h.txt", b"histogram")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "local.txt").write_text("here")
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "JUPYTERHUB_USER": "dana"}
    args = [f"--Cygnet.storage_endpoint={eos.url}", "--Cygnet.build_default_view=False"]
    with JupyterServer(env=env, root=tmp_path / "ws", args=args) as server:
        top = server.get("/api/contents/").json()
        assert {"EOS", "local.txt"} <= {m["name"] for m in top["content"]}
        listing = server.get("/api/contents/EOS/plots").json()
        assert [(m["name"], m["type"]) for m in listing["content"]] == [("h.txt", "file")]
        assert server.get("/api/contents/EOS/plots/h.txt").json()["content"] == "histogram"
        notebook = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
        assert server.http.put(
            f"{server.url}/api/contents/EOS/plots/fit.ipynb", json=notebook, timeout=30
        ).status_code in (200, 201)
        assert json.loads((eos.data / "eos/user/d/dana/plots/fit.ipynb").read_text())["nbformat"] == 4
        assert server.get("/api/contents/EOS/plots/fit.ipynb").json()["type"] == "notebook"
        assert not [p for p in (eos.data / "eos/user/d/dana/plots").iterdir() if xrootd.TEMP_MARK in p.name]
        moved = server.http.patch(
            f"{server.url}/api/contents/EOS/plots/fit.ipynb", json={"path": "EOS/plots/fit2.ipynb"}, timeout=30
        )
        assert moved.status_code == 200, moved.text
        assert server.delete("/api/contents/EOS/plots/fit2.ipynb").status_code == 204
        assert server.get("/api/contents/EOS/plots/nope.txt").status_code == 404
        assert server.get("/api/contents/local.txt").json()["content"] == "here"  # the workspace as before
        # '..' (encoded, so the client sends it as is) stays inside EOS/: a 400, not a 500
        text = {"type": "file", "format": "text", "content": "x"}
        for bad in ("EOS/plots/%2E%2E/%2E%2E/%2E%2E/escape.txt", "EOS/a%01b.txt"):
            r = server.http.put(f"{server.url}/api/contents/{bad}", json=text, timeout=30)
            assert r.status_code in (400, 404) and r.json()["message"], r.text
        r = server.http.patch(
            f"{server.url}/api/contents/EOS/plots/h.txt", json={"path": "EOS/../../x.txt"}, timeout=30
        )
        assert r.status_code == 400 and "inside EOS/" in r.json()["message"], r.text
        # '.' parts stay where they are: a path through one is the same file.
        assert server.get("/api/contents/EOS/%2E/plots/h.txt").json()["content"] == "histogram"


def test_a_file_on_eos_has_a_checkpoint_on_eos_and_a_history(eos, tmp_path):
    """Checkpoints of files in the EOS folder live on EOS beside them (.ipynb_checkpoints/, hidden
    from the listing); the History API diffs and restores them like local ones."""
    from tests.support.jupyter import JupyterServer

    eos.put("/eos/user/d/dana/fits/chi2.txt", b"chi2 = 1.02\n")
    (tmp_path / "ws").mkdir()
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "JUPYTERHUB_USER": "dana"}
    args = [f"--Cygnet.storage_endpoint={eos.url}", "--Cygnet.build_default_view=False"]
    path = "EOS/fits/chi2.txt"
    with JupyterServer(env=env, root=tmp_path / "ws", args=args) as server:
        assert server.get(f"/api/contents/{path}/checkpoints").json() == []
        made = server.post(f"/api/contents/{path}/checkpoints")
        assert made.status_code == 201 and made.json()["id"] == "checkpoint", made.text
        kept = eos.data / "eos/user/d/dana/fits/.ipynb_checkpoints/chi2-checkpoint.txt"
        assert kept.read_bytes() == b"chi2 = 1.02\n"
        assert [m["name"] for m in server.get("/api/contents/EOS/fits").json()["content"]] == ["chi2.txt"]
        text = {"type": "file", "format": "text", "content": "chi2 = 7.5\n"}
        assert server.http.put(f"{server.url}/api/contents/{path}", json=text, timeout=30).status_code == 200
        versions = server.get("/cygnet/api/history", params={"path": path}).json()["versions"]
        assert [(v["source"], v["id"]) for v in versions] == [("checkpoint", "checkpoint")], versions
        diff = server.get("/cygnet/api/history/diff", params={"path": path, "a": "checkpoint:checkpoint"}).json()
        assert "-chi2 = 1.02" in diff["diff"] and "+chi2 = 7.5" in diff["diff"], diff
        r = server.post("/cygnet/api/history/restore", json={"path": path, "version": "checkpoint:checkpoint"})
        assert r.status_code == 200, r.text
        assert (eos.data / "eos/user/d/dana/fits/chi2.txt").read_bytes() == b"chi2 = 1.02\n"
        assert kept.read_bytes() == b"chi2 = 7.5\n"  # the file before the restore: undoable
        # the plain restore of Jupyter's checkpoint API works on EOS too
        assert server.post(f"/api/contents/{path}/checkpoints/checkpoint").status_code == 204
        assert (eos.data / "eos/user/d/dana/fits/chi2.txt").read_bytes() == b"chi2 = 7.5\n"
