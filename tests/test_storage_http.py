"""EOS over HTTP (/cygnet/api/storage/): a real server and Debian's xrootd standing in for EOS."""

import os

import pytest

from tests.support.jupyter import JupyterServer
from tests.support.xrootd import XRootDServer

LIMIT = 8 << 20


@pytest.fixture(scope="module")
def eos_http(tmp_path_factory):
    eos = XRootDServer(tmp_path_factory.mktemp("xrootd-http")).start()
    env = {"CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("http-data")), "JUPYTERHUB_USER": "dave"}
    args = [f"--Cygnet.storage_endpoint={eos.url}", "--Cygnet.build_default_view=False"]
    args.append(f"--Cygnet.storage_http_max_bytes={LIMIT}")
    server = JupyterServer(env=env, root=tmp_path_factory.mktemp("http-workspace"), args=args)
    server.start()
    yield server, eos
    server.stop()
    eos.close()


def test_put_get_ranges_list_and_delete(eos_http):
    server, eos = eos_http
    body = os.urandom(3 << 20)
    r = server.http.put(f"{server.url}/cygnet/api/storage/results/run1/h.bin", data=body, timeout=60)
    assert r.status_code == 201 and r.json() == {"path": "results/run1/h.bin", "size": len(body)}, r.text
    on_disk = eos.data / "eos/user/d/dave/results/run1"
    assert (on_disk / "h.bin").read_bytes() == body
    assert [p.name for p in on_disk.iterdir()] == ["h.bin"], "no temporary file left beside it"

    whole = server.get("/cygnet/api/storage/results/run1/h.bin")
    assert whole.status_code == 200 and whole.content == body and whole.headers["Accept-Ranges"] == "bytes"
    part = server.get("/cygnet/api/storage/results/run1/h.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    tail = server.get("/cygnet/api/storage/results/run1/h.bin", headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == body[-5:]
    outside = server.get("/cygnet/api/storage/results/run1/h.bin", headers={"Range": f"bytes={len(body)}-"})
    assert outside.status_code == 416 and outside.headers["Content-Range"] == f"bytes */{len(body)}"

    listing = server.get("/cygnet/api/storage/results/run1", params={"list": ""}).json()
    assert [(e["name"], e["size"], e["type"]) for e in listing] == [("h.bin", len(body), "file")]
    assert [e["name"] for e in server.get("/cygnet/api/storage/").json()] == ["results"], "the home folder"

    assert server.delete("/cygnet/api/storage/results/run1/h.bin").status_code == 204
    gone = server.get("/cygnet/api/storage/results/run1/h.bin")
    assert gone.status_code == 404 and "h.bin" in gone.json()["message"]


def test_bad_paths_sizes_and_a_site_without_eos_are_answered_clearly(eos_http, server):
    http, _ = eos_http
    r = http.get("/cygnet/api/storage/results/../../../etc/passwd")
    assert r.status_code in (400, 404), r.text
    r = http.http.put(f"{http.url}/cygnet/api/storage/big.bin", data=b"x" * (LIMIT + 1), timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["message"]
    assert http.get("/cygnet/api/storage/big.bin").status_code == 404, "nothing of it was kept"
    assert http.delete("/cygnet/api/storage/").status_code == 400
    r = http.get("/cygnet/api/storage/x", params={"bogus": "1"})
    assert r.status_code == 400 and "bogus" in r.json()["message"]
    r = server.get("/cygnet/api/storage/anything")
    assert r.status_code == 503 and "storage endpoint" in r.json()["message"]
