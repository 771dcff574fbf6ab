"""Share links: the store (local and WebDAV boxes), the REST API, the public pages, open-a-copy,
and the CLI, against the real server of the session."""

import io
import json
import os
import sqlite3
import time
import uuid
import zipfile

import nbformat
import pytest
import requests

from cygnet.core.errors import BadInput, Expired, NotFound
from cygnet.core.identity import current_user
from cygnet.shares.store import ShareStore, parse_duration
from tests.support.cli import cygnet

ME = current_user()


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nbformat.writes(nb)


def evil_notebook(marker):
    """Markdown and outputs that would run script in a viewer's browser if not sanitized."""
    md = nbformat.v4.new_markdown_cell(
        f"# Results {marker}\n<script>alert('md')</script><img src=x onerror=alert(1)>"
        '<a href="javascript:alert(2)">click</a>'
    )
    code = nbformat.v4.new_code_cell(
        "print(6*7)",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="the answer is 42\n"),
            nbformat.v4.new_output(
                "display_data",
                data={
                    "text/html": "<table><tr><td>cell-value</td></tr></table><script>steal(document.cookie)</script>"
                    "<iframe src='/lab'></iframe><form action='/x'><input></form>",
                    "text/plain": "table",
                },
            ),
            nbformat.v4.new_output("display_data", data={"application/javascript": "evil_js()", "text/plain": "js"}),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "plot"}),
        ],
    )
    return notebook(md, code)


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- the store, on both kinds of box -------------------------------------------------------------
@pytest.fixture(params=["local", "webdav", "xrootd"])
def store(request, tmp_path, monkeypatch):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    if request.param == "local":
        url = str(tmp_path / "box" / ".cygnet-shares")
    elif request.param == "xrootd":
        url = f"{request.getfixturevalue('eos_server').url}//shares-{uuid.uuid4().hex[:8]}"
    else:
        dav = request.getfixturevalue("webdav")
        for key, value in dav["env"].items():
            monkeypatch.setenv(key, value)
        url = f"{dav['url']}/shares-{uuid.uuid4().hex[:8]}"
    s = ShareStore(tmp_path / "shares.sqlite", url, workspace)
    yield s
    s.close()


def test_a_share_is_a_snapshot_that_survives_edits_moves_and_deletion(store):
    original = write(store.workspace / "ana" / "fit.ipynb", notebook(nbformat.v4.new_markdown_cell("v1")))
    share, token = store.create("ana/fit.ipynb", ME)
    assert share.kind == "notebook" and share.path == "ana/fit.ipynb"
    write(original, notebook(nbformat.v4.new_markdown_cell("v2 private")))
    assert b"v1" in store.read(store.resolve(token))  # later edits stay private
    refreshed = store.refresh(share.id, ME)
    assert refreshed.rev == 2 and b"v2 private" in store.read(store.resolve(token))
    assert store.box.stat(f"{share.id}/1/fit.ipynb") is None  # the old snapshot is gone
    original.unlink()
    assert b"v2 private" in store.read(store.resolve(token))  # the link outlives the original
    with pytest.raises(NotFound, match="no longer exists"):
        store.refresh(share.id, ME)


def test_folder_share_holds_the_visible_files_only(store):
    write(store.workspace / "proj" / "a.ipynb", notebook())
    write(store.workspace / "proj" / "data" / "h.csv", "x,y\n1,2\n")
    write(store.workspace / "proj" / ".env", "PASSWORD=hunter2")
    write(store.workspace / "proj" / ".git" / "config", "[core]")
    share, token = store.create("proj", ME)
    assert sorted(rel for rel, _ in share.files) == ["a.ipynb", "data/h.csv"]
    assert store.read(store.resolve(token), "data/h.csv") == b"x,y\n1,2\n"
    with pytest.raises(NotFound):
        store.read(share, ".env")
    out = io.BytesIO()
    store.write_zip(share, out)
    assert sorted(zipfile.ZipFile(out).namelist()) == ["proj/a.ipynb", "proj/data/h.csv"]


def test_tokens_are_random_and_stored_only_hashed(store, tmp_path):
    write(store.workspace / "n.ipynb", notebook())
    tokens = [store.create("n.ipynb", ME)[1] for _ in range(3)]
    assert len(set(tokens)) == 3 and all(len(t) >= 32 for t in tokens)  # 192 bits, base64url
    dump = "\n".join(sqlite3.connect(tmp_path / "shares.sqlite").iterdump())
    assert not any(t in dump for t in tokens)


def test_revoke_expire_list_and_owners(store):
    write(store.workspace / "n.ipynb", notebook())
    kept, _ = store.create("n.ipynb", ME)
    gone, gone_token = store.create("n.ipynb", ME)
    short, short_token = store.create("n.ipynb", ME, expires_in=1)
    store.revoke(gone.id, ME)
    with pytest.raises(NotFound):
        store.resolve(gone_token)
    assert store.box.stat(f"{gone.id}/1/n.ipynb") is None  # its snapshot left the box
    assert store.box.stat(f"{kept.id}/1/n.ipynb") is not None
    with pytest.raises(NotFound):
        store.revoke(kept.id, "mallory")  # only the owner can
    time.sleep(1.1)
    with pytest.raises(Expired):
        store.resolve(short_token)
    listed = {s.id: s.to_dict()["state"] for s in store.list(ME)}
    assert listed == {kept.id: "active", short.id: "expired"}
    assert [s.id for s in store.list(ME, path="n.ipynb")] == [short.id, kept.id]
    assert store.list("mallory") == []


def test_named_users_find_what_was_shared_with_them(store):
    write(store.workspace / "n.ipynb", notebook())
    share, _ = store.create("n.ipynb", ME, users=["bob", "carol"])
    assert [s.id for s in store.shared_with("bob")] == [share.id]
    assert store.shared_with("mallory") == []
    assert store.for_user(share.id, "carol").id == share.id
    with pytest.raises(NotFound):
        store.for_user(share.id, "mallory")


@pytest.mark.parametrize(
    "path, words",
    [
        ("../outside.ipynb", "must stay inside the workspace"),
        ("/etc/passwd", "must stay inside the workspace"),
        ("escape/passwd", "leads outside the workspace"),
        (".secret", "hidden"),
        ("", "give the path"),
        ("missing.ipynb", "does not exist"),
    ],
)
def test_paths_outside_the_workspace_are_refused(store, path, words):
    (store.workspace / "escape").symlink_to("/etc")
    write(store.workspace / ".secret", "x")
    with pytest.raises((BadInput, NotFound), match=words):
        store.create(path, ME)


def test_expiry_parsing():
    assert parse_duration("7d") == 7 * 86400 and parse_duration("90m") == 5400 and parse_duration(30) == 30
    assert parse_duration(None) is None
    for bad in ("soon", "-1", "0", True, "100000w"):
        with pytest.raises(BadInput):
            parse_duration(bad)


# --- over HTTP --------------------------------------------------------------------------------------
@pytest.fixture
def shared(server):
    """A fresh notebook in the server's workspace and a share of it: (relative path, share JSON)."""
    rel = f"share-{uuid.uuid4().hex[:6]}/analysis.ipynb"
    write(server.root / rel, evil_notebook("marker-" + rel))
    r = server.post("/cygnet/api/shares", json={"path": rel, "expires_in": "1d"})
    assert r.status_code == 201, r.text
    return rel, r.json()


def public(url, **kw):
    return requests.get(url, timeout=30, **kw)  # no token, no cookies: a stranger with the link


def test_public_page_renders_the_notebook_sanitized_and_sandboxed(server, shared):
    rel, share = shared
    assert share["url"].startswith(server.url + "/cygnet/s/") and share["token"] in share["url"]
    r = public(share["url"])
    assert r.status_code == 200, r.text
    page = r.text
    assert f"Results marker-{rel}" in page and "the answer is 42" in page and "cell-value" in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page  # plots stay
    for dangerous in ("<script", "onerror", "javascript:", "<iframe", "<form", "steal(", "evil_js"):
        assert dangerous not in page.lower(), dangerous
    csp = r.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "allow-scripts" not in csp
    assert "allow-same-origin" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"


def test_raw_download_is_the_snapshot_as_an_attachment(server, shared):
    rel, share = shared
    original = (server.root / rel).read_bytes()
    write(server.root / rel, "edited after sharing")
    r = public(share["url"] + "/raw")
    assert r.status_code == 200 and r.content == original
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment")


def test_folder_share_lists_renders_and_zips(server):
    folder = f"proj-{uuid.uuid4().hex[:6]}"
    write(server.root / folder / "a.ipynb", evil_notebook("in-folder"))
    write(server.root / folder / "data" / "h.csv", "x,y\n")
    write(server.root / folder / ".env", "TOKEN=secret")
    share = server.post("/cygnet/api/shares", json={"path": folder}).json()
    listing = public(share["url"])
    assert listing.status_code == 200 and "a.ipynb" in listing.text and "data/h.csv" in listing.text
    assert ".env" not in listing.text
    view = public(share["url"] + "/view/a.ipynb")
    assert view.status_code == 200 and "Results in-folder" in view.text and "<script" not in view.text
    assert public(share["url"] + "/raw/data/h.csv").content == b"x,y\n"
    archive = zipfile.ZipFile(io.BytesIO(public(share["url"] + "/raw").content))
    assert sorted(archive.namelist()) == [f"{folder}/a.ipynb", f"{folder}/data/h.csv"]


@pytest.mark.parametrize(
    "suffix",
    [
        "/raw/..%2F..%2F..%2Fetc%2Fpasswd",
        "/view/%2Fetc%2Fpasswd",
        "/raw/.env",
        "/raw/data%2F..%2F.env",
        "/view/data/h.csv/../../.env",
    ],
)
def test_public_paths_cannot_reach_outside_the_snapshot(server, suffix):
    folder = f"proj-{uuid.uuid4().hex[:6]}"
    write(server.root / folder / "data" / "h.csv", "x,y\n")
    write(server.root / folder / ".env", "TOKEN=secret")
    share = server.post("/cygnet/api/shares", json={"path": folder}).json()
    r = requests.get(share["url"] + suffix, timeout=30)
    assert r.status_code in (400, 404) and "TOKEN=secret" not in r.text and "root:" not in r.text


def test_revoked_and_unknown_links_are_404_expired_410(server, shared):
    _, share = shared
    assert public(share["url"]).status_code == 200
    assert server.delete(f"/cygnet/api/shares/{share['id']}").status_code == 204
    for url in (share["url"], share["url"] + "/raw", f"{server.url}/cygnet/s/{'A' * 32}"):
        r = public(url)
        assert r.status_code == 404 and "<script" not in r.text, url
    rel = f"short-{uuid.uuid4().hex[:6]}.ipynb"
    write(server.root / rel, notebook())
    short = server.post("/cygnet/api/shares", json={"path": rel, "expires_in": 1}).json()
    time.sleep(1.2)
    r = public(short["url"])
    assert r.status_code == 410 and "expired" in r.text


def test_links_that_cannot_be_shares_are_json_errors_even_at_100000_characters(server):
    r = public(f"{server.url}/cygnet/s/{'A' * 100_000}")
    assert r.status_code == 414 and r.headers["Content-Type"].startswith("application/json"), r.text[:300]
    assert "at most 64 characters" in r.json()["message"] and "AAAA" not in r.text
    r = public(f"{server.url}/cygnet/s/{'%7E' * 40}")
    assert r.status_code == 404 and r.json()["message"].startswith("not a share link"), r.text[:300]


def test_tokens_never_reach_the_server_log(server, shared):
    _, share = shared
    public(share["url"])
    server.delete(f"/cygnet/api/shares/{share['id']}")
    assert public(share["url"]).status_code == 404  # logged as a warning, with the path
    # A logged-out visitor's open link: logging in posts next= with the token in it, URL-encoded.
    visitor = requests.Session()
    visitor.get(f"{server.url}/login", timeout=30)
    login = visitor.post(
        f"{server.url}/login",
        params={"next": f"/cygnet/open?share={share['token']}"},
        data={"password": server.token, "_xsrf": visitor.cookies.get("_xsrf", "")},
        allow_redirects=False,
        timeout=30,
    )
    assert login.status_code == 302, login.status_code
    server.wait_for_log("/login?next=")
    log = server.log()
    assert "/cygnet/s/[secret]" in log and share["token"] not in log


def test_list_get_refresh_and_with_me(server, shared):
    rel, share = shared
    mine = server.get("/cygnet/api/shares", params={"path": rel}).json()
    assert [s["id"] for s in mine] == [share["id"]] and "token" not in mine[0]
    assert server.get(f"/cygnet/api/shares/{share['id']}").json()["path"] == rel
    write(server.root / rel, notebook(nbformat.v4.new_markdown_cell("# Second version")))
    r = server.post(f"/cygnet/api/shares/{share['id']}/refresh")
    assert r.status_code == 200 and r.json()["rev"] == 2
    assert "Second version" in public(share["url"]).text  # the new revision, not a cached old one
    named = server.post("/cygnet/api/shares", json={"path": rel, "users": [ME]}).json()
    with_me = server.get("/cygnet/api/shares/with-me").json()
    assert named["id"] in [s["id"] for s in with_me]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"path": "../x.ipynb"}, 400, "must stay inside the workspace"),
        ({"path": "/etc/passwd"}, 400, "must stay inside the workspace"),
        ({"path": "nope.ipynb"}, 404, "does not exist"),
        ({"path": "x", "expires_in": "soon"}, 400, "not a duration"),
        ({"path": "x", "users": "bob"}, 400, "users must be a list of names"),
        ({"path": "x", "users": {"a": 1}}, 400, "users must be a list of names"),
        ({"path": "x", "extra": 1}, 400, "unknown field(s) in the body: 'extra'"),
        ({"path": 1}, 400, "path must be a string, not a number"),
        ({"path": "a\x01b"}, 400, "path must not contain control characters"),
        (["path"], 400, "the body must be a JSON object"),
    ],
)
def test_bad_share_requests_get_clear_errors(server, body, status, words):
    write(server.root / "x", "x")
    r = server.post("/cygnet/api/shares", json=body)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_share_api_needs_login_and_xsrf(server, shared):
    _, share = shared
    assert requests.get(f"{server.url}/cygnet/api/shares", timeout=10).status_code == 403
    assert requests.post(f"{server.url}/cygnet/api/shares", json={"path": "x"}, timeout=10).status_code == 403
    assert requests.delete(f"{server.url}/cygnet/api/shares/{share['id']}", timeout=10).status_code == 403
    assert public(share["url"]).status_code == 200  # still shared
    assert server.get(f"/cygnet/api/shares/{'0' * 16}").status_code == 404


def test_open_a_copy_never_overwrites(server, shared):
    rel, share = shared
    events = server.events("/cygnet/api/open", {"share": share["token"], "target": "copies"})
    kind, first = events[-1]
    assert kind == "done" and first["path"] == "copies/analysis.ipynb", events
    write(server.root / "copies" / "analysis.ipynb", "my own edits")
    kind, second = server.events("/cygnet/api/open", {"share": share["token"], "target": "copies"})[-1]
    assert kind == "done" and second["path"] == "copies/analysis-1.ipynb"
    assert (server.root / "copies" / "analysis.ipynb").read_text() == "my own edits"
    assert (server.root / second["path"]).read_bytes() == (server.root / rel).read_bytes()
    kind, data = server.events("/cygnet/api/open", {"share": "A" * 32})[-1]
    assert kind == "failed" and "no such share" in data["message"]


def test_cli_create_list_revoke(tmp_path):
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data")}
    write(tmp_path / "ws" / "n.ipynb", notebook())
    made = cygnet(
        "share", "create", "n.ipynb", "--expires", "2h", "--json", "--workspace", str(tmp_path / "ws"), env=env
    )
    assert made.returncode == 0, made.stderr
    share = json.loads(made.stdout)
    assert share["url"] == f"/cygnet/s/{share['token']}" and share["expires"] - share["created"] == pytest.approx(7200)
    listed = cygnet("share", "list", env=env)
    assert share["id"] in listed.stdout and share["token"] not in listed.stdout
    assert cygnet("share", "revoke", share["id"], env=env).returncode == 0
    again = cygnet("share", "revoke", share["id"], env=env)
    assert again.returncode == 3 and "no share" in again.stderr
    outside = cygnet("share", "create", "../x", "--workspace", str(tmp_path / "ws"), env=env)
    assert outside.returncode == 2 and "must stay inside" in outside.stderr
    assert not os.path.exists(tmp_path / "data" / "box" / ".cygnet-shares" / share["id"])


def test_the_hub_service_serves_the_same_pages_and_json_link_errors(tmp_path):
    """The hub's share service (in this process, without a hub: its pages need no login) renders
    with cygnet.shares' own template and answers links that cannot be shares as the server does."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    from cygnet.hub.shares_service import Service, make_app

    write(tmp_path / "ws" / "n.ipynb", evil_notebook("hub-page"))
    store = ShareStore(tmp_path / "shares.sqlite", str(tmp_path / "snapshots"), tmp_path / "ws")
    _, token = store.create("n.ipynb", ME)

    async def fetch_all(paths):
        sock, port = bind_unused_port()
        server = HTTPServer(make_app(Service(store, "/services/cygnet-shares/", "/")))
        server.add_sockets([sock])
        client = AsyncHTTPClient(force_instance=True)
        try:
            base = f"http://127.0.0.1:{port}/services/cygnet-shares/s/"
            return [await client.fetch(base + path, raise_error=False) for path in paths]
        finally:
            client.close()
            server.stop()

    try:
        page, raw, long, short, other = asyncio.run(
            fetch_all([token, token + "/raw", "A" * 5000, "short", token + "/elsewhere"])
        )
    finally:
        store.close()
    assert page.code == 200 and b"Results hub-page" in page.body and b"<script" not in page.body
    assert b"/hub/user-redirect/cygnet/open?share=" in page.body and b"Shared by" in page.body
    assert "sandbox" in page.headers["Content-Security-Policy"] and page.headers["Cache-Control"] == "no-store"
    assert raw.code == 200 and raw.headers["Content-Type"] == "application/octet-stream"
    for answer, code, words in (
        (long, 414, "at most 64"),
        (short, 404, "not a share link"),
        (other, 404, "no such page"),
    ):
        assert answer.code == code and answer.headers["Content-Type"].startswith("application/json"), answer.body
        assert words in json.loads(answer.body)["message"]


# --- bundles: what a user's server sends the hub's share service ---------------------------


def _zip(entries, link=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    out.seek(0)
    return out


@pytest.mark.parametrize(
    "entries, name, kind, link, words",
    [
        ({"../escape.txt": "x"}, "box", "folder", None, "not a plain relative path"),
        ({"/abs.txt": "x"}, "box", "folder", None, "not a plain relative path"),
        ({".env": "x"}, "box", "folder", None, "not a plain relative path"),
        ({"a.txt": "x"}, "box", "folder", "evil", "symbolic link"),
        ({"a.txt": "x", "b.txt": "y"}, "a.txt", "file", None, "exactly one file"),
        ({"b.txt": "x"}, "a.txt", "file", None, "exactly one file"),
        ({"a.txt": "x" * 2000}, "box", "folder", None, "larger than this site's limit"),
        ({"a.txt": "x"}, "../box", "folder", None, "not a name a share can have"),
        ({"a.txt": "x"}, "box", "weird", None, "kind must be"),
    ],
)
def test_a_bundle_that_is_not_well_made_is_refused(tmp_path, entries, name, kind, link, words):
    from cygnet.shares.bundle import unpack

    with pytest.raises(BadInput, match=words):
        unpack(_zip(entries, link), tmp_path, name, kind, max_bytes=1000)
    assert list(tmp_path.iterdir()) == [], "nothing is written from a refused bundle"


def test_a_bundle_round_trips_a_folder(tmp_path):
    from cygnet.shares.bundle import pack, unpack
    from cygnet.shares.store import files_of

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.ipynb").write_text("{}")
    (src / ".hidden").write_text("secret")
    out = io.BytesIO()
    pack(src, files_of(src, 1 << 20), "folder", out)
    out.seek(0)
    (tmp_path / "dst").mkdir()
    got = unpack(out, tmp_path / "dst", "src", "folder", 1 << 20)
    assert (got / "a.txt").read_text() == "alpha" and (got / "sub" / "b.ipynb").read_text() == "{}"
    assert not (got / ".hidden").exists()


def test_the_log_scrubber_hides_secret_values_of_an_environment_written_out_whole():
    """batchspawner logs a session's environment at debug level, its hub token with it: the
    scrubber on the hub's log hides the values of variables named as secrets, and nothing else."""
    import logging

    from cygnet.server.log_scrub import ScrubSecrets

    env = {"JUPYTERHUB_API_TOKEN": "a1b2c3d4", "CYGNET_SESSION_KEY": "k9", "HOME": "/home/ann", "SITE_KEY_ID": "id"}
    record = logging.LogRecord(
        "JupyterHub", logging.DEBUG, __file__, 1, "Spawner submitting environment: %s", (env,), None
    )
    ScrubSecrets().filter(record)
    assert record.getMessage() == (
        "Spawner submitting environment: {'JUPYTERHUB_API_TOKEN': '[secret]', 'CYGNET_SESSION_KEY': '[secret]', "
        "'HOME': '/home/ann', 'SITE_KEY_ID': 'id'}"
    )
    line = logging.LogRecord("x", logging.INFO, __file__, 1, "export CYGNET_BOX_PASSWORD=hunter2 LANG=C", (), None)
    ScrubSecrets().filter(line)
    assert line.getMessage() == "export CYGNET_BOX_PASSWORD=[secret] LANG=C"
