"""Sharing a running session with a named colleague (JupyterHub 5 shares), on a hub that runs each
session as its own Unix account (CygnetSystemUserSpawner): the colleague reaches the owner's
files and kernels (and runs code as the owner: that is what sharing a session means), never the
owner's Cygnet records, the hub API or a re-share; a revoke cuts their open kernel off and their
next request is refused at once (a revoke made at the hub, at the session's next recheck). The
same two accounts share a folder live, each from their own session. Two
accounts are made for the test (CI runs as root; elsewhere it is skipped), others than
test_hub_isolation's, so the two modules can run side by side."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import websocket

from tests.support.accounts import unix_accounts
from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.views import kernel_name
from tests.support.waiting import wait_for
from tests.test_hub_isolation import readable_views, shared_interpreter  # noqa: F401 - fixtures

OWNER, COLLEAGUE = "cyg-carol", "cyg-dave"
pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root to make Unix accounts"),
]


@pytest.fixture(scope="module")
def accounts(shared_interpreter):  # noqa: F811
    with unix_accounts(OWNER, COLLEAGUE) as made:
        yield made


@pytest.fixture(scope="module")
def sharing_hub(tmp_path_factory, accounts, readable_views):  # noqa: F811
    folder = tmp_path_factory.mktemp("sharing")
    space_parent = Path(tempfile.mkdtemp(prefix="cygnet-space-"))
    os.chmod(space_parent, 0o711)  # every account passes through to the live folders' space, as under /var/lib
    site = folder / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n'
        # Sessions ask the hub about colleagues' open websockets every second (default 10 s).
        'c.Spawner.args = ["--Cygnet.session_recheck_interval=1"]\n'
        f"c.CygnetHub.shared_folders_root = {str(space_parent / 'space')!r}\n"
        # The owner reads the hub services' metrics (a site gives this to its Prometheus).
        f'c.JupyterHub.load_roles = [{{"name": "metrics", "scopes": ["read:metrics"], "users": ["{OWNER}"]}}]\n'
    )
    hub = Hub(folder / "data", env={"CYGNET_VIEWS_PATH": str(readable_views)}, args=[f"--config={site}"]).start()
    try:
        tokens = {}
        for name in (OWNER, COLLEAGUE):
            web = hub.login(name)
            tokens[name] = hub.token(web, name)
        hub.start_session(hub.login(OWNER), OWNER, {"view": f"LCG_iso/{PLATFORM}"})
        yield hub, {name: hub.api(token) for name, token in tokens.items()}, tokens
    finally:
        hub.stop()
        shutil.rmtree(space_parent, ignore_errors=True)


def session_api(hub, path=""):
    return f"{hub.url}/user/{OWNER}/cygnet/api/session{path}"


def test_bad_grants_and_revokes_get_clear_answers(sharing_hub):
    hub, api, _ = sharing_hub
    owner = api[OWNER]
    for body, status, words in [
        ({"users": ["no-such-person"]}, 404, "no user 'no-such-person'"),
        ({"users": [OWNER]}, 400, "yourself"),
        ({"users": []}, 400, "at least one user"),
        ({"users": "cyg-dave"}, 400, "must be a list"),
        ({"users": ["a/b"]}, 400, "not a user name"),
        ({"people": ["x"]}, 400, "unknown field"),
    ]:
        r = owner.post(session_api(hub, "/shares"), json=body, timeout=60)
        assert r.status_code == status and words in r.json()["message"], (body, r.status_code, r.text)
    r = owner.delete(session_api(hub, f"/shares/{COLLEAGUE}"), timeout=60)
    assert r.status_code == 404 and "not shared with cyg-dave" in r.json()["message"], r.text
    assert owner.get(session_api(hub, "/shares"), timeout=60).json() == []


def test_a_shared_session_opens_to_the_colleague_alone_and_a_revoke_cuts_them_off(sharing_hub, accounts):
    hub, api, tokens = sharing_hub
    owner, colleague = api[OWNER], api[COLLEAGUE]
    status = f"{hub.url}/user/{OWNER}/api/status"
    assert colleague.get(status, timeout=60).status_code == 403, "not shared yet"
    assert owner.get(session_api(hub), timeout=60).json() == {
        "owner": OWNER,
        "you": OWNER,
        "hub": True,
        "shared_with": [],
    }

    r = owner.post(session_api(hub, "/shares"), json={"users": [COLLEAGUE]}, timeout=60)
    assert r.status_code == 201 and [g["user"] for g in r.json()] == [COLLEAGUE], r.text
    again = owner.post(session_api(hub, "/shares"), json={"users": [COLLEAGUE]}, timeout=60)
    assert again.status_code == 409 and "already shared with cyg-dave" in again.json()["message"]
    assert owner.get(session_api(hub), timeout=60).json()["shared_with"] == [COLLEAGUE]

    # The colleague works in the session: its files, and a kernel that runs as the owner.
    assert colleague.get(status, timeout=60).status_code == 200
    assert colleague.get(f"{hub.url}/user/{OWNER}/api/contents", timeout=60).status_code == 200
    me = colleague.get(session_api(hub), timeout=60).json()
    assert me == {"owner": OWNER, "you": COLLEAGUE, "hub": True, "shared_with": None}
    kernel = hub.kernel(OWNER, tokens[COLLEAGUE], kernel_name("LCG_iso", PLATFORM))
    assert kernel.run("import os; print(os.getuid())").strip() == str(accounts[OWNER].pw_uid)

    # ...but nothing of the owner's beyond it: no re-share, no share rows, no Cygnet feature
    # acting with the owner's credentials, no hub API on the owner, no other session.
    for method, path, body in [
        ("get", "/cygnet/api/session/shares", None),
        ("post", "/cygnet/api/session/shares", {"users": [COLLEAGUE]}),
        ("delete", f"/cygnet/api/session/shares/{COLLEAGUE}", None),
        ("get", "/cygnet/api/shares", None),
        ("get", "/cygnet/api/kerberos", None),
        ("get", "/cygnet/api/runs", None),
        ("get", "/cygnet/api/sync", None),
        ("get", "/cygnet/open?repo=https://example.org/r.git", None),
    ]:
        r = colleague.request(method, f"{hub.url}/user/{OWNER}{path}", json=body, timeout=60)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
        if path.startswith("/cygnet/api/"):
            assert f"only {OWNER}, whose session this is" in r.json()["message"], r.text
    # Users may look up each other's names (read:users:name, to share by name): nothing more.
    model = colleague.get(f"{hub.url}/hub/api/users/{OWNER}", timeout=60).json()
    assert set(model) <= {"kind", "name", "admin", "user_info"} and not model.get("user_info"), model
    assert colleague.delete(f"{hub.url}/hub/api/users/{OWNER}/server", timeout=60).status_code in (403, 404)
    r = colleague.post(
        f"{hub.url}/hub/api/shares/{OWNER}/", json={"user": COLLEAGUE}, timeout=60
    )  # the hub's own API refuses a grantee's re-share too
    assert r.status_code in (403, 404), r.text
    assert colleague.get(status, timeout=60).status_code == 200, "still in, until the owner revokes"

    # The owner revokes: the colleague's open kernel connection closes, and the next request is
    # refused at once (the server's cached answer about them is gone).
    r = owner.delete(session_api(hub, f"/shares/{COLLEAGUE}"), timeout=60)
    assert r.status_code == 200 and r.json()["revoked"] == COLLEAGUE and r.json()["closed"] >= 1, r.text
    assert colleague.get(status, timeout=60).status_code == 403
    assert colleague.get(f"{hub.url}/user/{OWNER}/api/contents", timeout=60).status_code == 403
    wait_for(lambda: _closed(kernel.ws), timeout=30, what="the colleague's kernel websocket to close")
    assert owner.get(session_api(hub), timeout=60).json()["shared_with"] == []
    assert owner.get(status, timeout=60).status_code == 200, "the owner's own access is untouched"

    # A revoke made outside Cygnet (the hub's own API, as its share page does) closes the
    # colleague's open websocket too, at the session's next recheck.
    assert owner.post(session_api(hub, "/shares"), json={"users": [COLLEAGUE]}, timeout=60).status_code == 201
    kernel = hub.kernel(OWNER, tokens[COLLEAGUE], kernel_name("LCG_iso", PLATFORM))
    assert kernel.run("print(6 * 7)").strip() == "42"
    r = owner.patch(f"{hub.url}/hub/api/shares/{OWNER}/", json={"user": COLLEAGUE}, timeout=60)
    assert r.status_code in (200, 204), r.text
    wait_for(lambda: _closed(kernel.ws), timeout=60, what="the websocket of a share revoked at the hub to close")
    assert colleague.get(status, timeout=60).status_code == 403


def _closed(ws):
    """True once the server has closed `ws` (messages still in flight are read past)."""
    ws.settimeout(1)
    try:
        ws.recv()
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    return not ws.connected


def test_a_folder_shared_live_is_one_folder_for_both_until_its_owner_stops(sharing_hub, accounts):
    """Live shared folders (cygnet.shares.folders and live_folders) between the two accounts: the
    colleague works in the owner's folder itself from their own session, read-write or read-only,
    and is cut off at once."""
    hub, api, _ = sharing_hub
    hub.start_session(hub.login(COLLEAGUE), COLLEAGUE, {"view": f"LCG_iso/{PLATFORM}"})
    owner, colleague = api[OWNER], api[COLLEAGUE]
    owner_url, colleague_url = f"{hub.url}/user/{OWNER}", f"{hub.url}/user/{COLLEAGUE}"

    def put_text(http, base, path, text):
        body = {"type": "file", "format": "text", "content": text}
        return http.put(f"{base}/api/contents/{path}", json=body, timeout=30)

    def read_text(http, base, path):
        r = http.get(f"{base}/api/contents/{path}", params={"content": 1}, timeout=30)
        return r.json()["content"] if r.ok else None

    assert owner.put(f"{owner_url}/api/contents/data", json={"type": "directory"}, timeout=30).ok
    assert put_text(owner, owner_url, "data/notes.txt", "the owner's notes").ok
    shared = owner.post(f"{owner_url}/cygnet/api/folders", json={"path": "data", "users": [COLLEAGUE]}, timeout=60)
    assert shared.status_code == 201, shared.text
    folder = shared.json()
    assert folder["members"] == {COLLEAGUE: "rw"} and folder["owner"] == OWNER, folder
    home = Path(accounts[OWNER].pw_dir)
    assert os.readlink(home / "data") == folder["target"]  # the owner keeps working at the same path
    assert read_text(owner, owner_url, "data/notes.txt") == "the owner's notes"

    # The colleague's session links it at shared/<owner>/<name>; both work in the one folder.
    listing = colleague.get(f"{colleague_url}/cygnet/api/folders", timeout=60).json()
    assert [f["id"] for f in listing["folders"]] == [folder["id"]], listing
    assert read_text(colleague, colleague_url, f"shared/{OWNER}/data/notes.txt") == "the owner's notes"
    assert put_text(colleague, colleague_url, f"shared/{OWNER}/data/from-colleague.txt", "the colleague's part").ok
    assert read_text(owner, owner_url, "data/from-colleague.txt") == "the colleague's part"
    assert put_text(owner, owner_url, "data/notes.txt", "the owner's notes, v2").ok
    assert read_text(colleague, colleague_url, f"shared/{OWNER}/data/notes.txt") == "the owner's notes, v2"
    assert not (Path(folder["target"]).stat().st_mode & 0o007), "nothing in a shared folder is world-readable"

    # Bad input and other people's folders: clear refusals.
    def post(body):
        return owner.post(f"{owner_url}/cygnet/api/folders", json=body, timeout=60)

    assert owner.put(f"{owner_url}/api/contents/other", json={"type": "directory"}, timeout=30).ok
    for body, status, words in [
        ({"path": "other", "users": [OWNER]}, 400, "yourself"),
        ({"path": "other", "users": ["no-such-account"]}, 404, "no account"),
        ({"path": "data", "users": [COLLEAGUE]}, 400, "shared live already"),
        ({"path": "../etc", "users": [COLLEAGUE]}, 400, "inside the workspace"),
        ({"path": "other", "users": [COLLEAGUE], "mode": "rwx"}, 400, "mode"),
    ]:
        r = post(body)
        assert r.status_code == status and words in r.json()["message"], (body, r.status_code, r.text)
    members = f"cygnet/api/folders/{folder['id']}/members"
    assert owner.put(f"{owner_url}/{members}/{COLLEAGUE}", json={}, timeout=60).status_code == 409  # twice
    assert owner.delete(f"{owner_url}/{members}/root", timeout=60).status_code == 404  # never granted
    r = colleague.put(f"{colleague_url}/{members}/{COLLEAGUE}", json={"mode": "rw"}, timeout=60)
    assert r.status_code == 403 and f"only {OWNER}" in r.json()["message"], r.text  # no re-sharing
    assert colleague.delete(f"{colleague_url}/cygnet/api/folders/{folder['id']}", timeout=60).status_code == 403

    # A revoke cuts the colleague off at once; the link goes at their session's next look.
    assert owner.delete(f"{owner_url}/{members}/{COLLEAGUE}", timeout=60).ok
    assert read_text(colleague, colleague_url, f"shared/{OWNER}/data/notes.txt") is None
    assert colleague.get(f"{colleague_url}/cygnet/api/folders", timeout=60).json()["folders"] == []
    assert not os.path.lexists(Path(accounts[COLLEAGUE].pw_dir) / "shared")

    # Read-only: the colleague reads, and cannot write there.
    r = owner.put(f"{owner_url}/{members}/{COLLEAGUE}", json={"mode": "ro"}, timeout=60)
    assert r.ok and r.json()["members"] == {COLLEAGUE: "ro"}, r.text
    colleague.get(f"{colleague_url}/cygnet/api/folders", timeout=60)
    assert read_text(colleague, colleague_url, f"shared/{OWNER}/data/notes.txt") == "the owner's notes, v2"
    assert not put_text(colleague, colleague_url, f"shared/{OWNER}/data/new.txt", "no").ok
    assert not put_text(colleague, colleague_url, f"shared/{OWNER}/data/notes.txt", "no").ok

    # Stopping: the colleague is cut off, and the folder is back in place, whole.
    r = owner.delete(f"{owner_url}/cygnet/api/folders/{folder['id']}", timeout=60)
    assert r.ok and r.json()["path"] == "data", r.text
    assert (home / "data").is_dir() and not (home / "data").is_symlink()
    assert sorted(p.name for p in (home / "data").iterdir() if not p.name.startswith(".")) == [
        "from-colleague.txt",
        "notes.txt",
    ]
    assert not Path(folder["target"]).parent.exists(), "the door is gone with the share"
    assert read_text(owner, owner_url, "data/from-colleague.txt") == "the colleague's part"
    assert colleague.get(f"{colleague_url}/cygnet/api/folders", timeout=60).json()["folders"] == []
    assert owner.get(f"{owner_url}/cygnet/api/folders", timeout=60).json()["folders"] == []


def test_a_folder_is_shared_live_from_the_file_browser_and_found_in_the_colleagues(sharing_hub, accounts):
    """In Chromium: the owner right-clicks a folder, *Share Folder Live…*, names the colleague; the
    colleague's *Shared* panel lists it and their file browser shows it under shared/<owner>/."""
    from playwright.sync_api import sync_playwright

    from tests.test_hub_e2e import logged_in
    from tests.test_lab_e2e import CHROMIUM, FLAGS, SHOTS

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    hub, api, _ = sharing_hub
    hub.start_session(hub.login(COLLEAGUE), COLLEAGUE, {"view": f"LCG_iso/{PLATFORM}"})
    owner_url = f"{hub.url}/user/{OWNER}"
    assert api[OWNER].put(f"{owner_url}/api/contents/plots", json={"type": "directory"}, timeout=30).ok
    body = {"type": "file", "format": "text", "content": "a plot"}
    assert api[OWNER].put(f"{owner_url}/api/contents/plots/fit.txt", json=body, timeout=30).ok

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:

            def lab_of(user):
                page = logged_in(browser, hub, user, f"/user/{user}/lab")
                page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
                page.wait_for_selector(".jp-DirListing-item", timeout=120_000)
                return page

            owner = lab_of(OWNER)
            owner.locator(".jp-DirListing-item", has_text="plots").click(button="right")
            owner.click(".lm-Menu-item:has-text('Share Folder Live…')")
            owner.fill(".cygnet-folder-users", COLLEAGUE)
            owner.click(".cygnet-folder-share")
            owner.wait_for_selector(f".cygnet-folder-members:has-text('Shared with {COLLEAGUE}')")
            owner.screenshot(path=str(SHOTS / "hub-live-folder-dialog.png"))
            owner.click(".jp-Dialog-button.jp-mod-accept")

            colleague = lab_of(COLLEAGUE)
            colleague.click(".jp-SideBar [data-id='cygnet-shared-panel']")
            row = colleague.wait_for_selector(
                f".cygnet-shared-folders .cygnet-folder-row:has-text('shared/{OWNER}/plots')"
            )
            assert f"from {OWNER}" in row.inner_text()
            colleague.click(".jp-SideBar [data-id='filebrowser']")
            for name in ("shared", OWNER, "plots"):  # the folder is in their own workspace now
                colleague.locator(".jp-DirListing-item", has_text=name).first.dblclick()
            colleague.wait_for_selector(".jp-DirListing-item:has-text('fit.txt')")
            colleague.screenshot(path=str(SHOTS / "hub-live-folder-colleague.png"))
        finally:
            browser.close()
    folder = next(f for f in api[OWNER].get(f"{owner_url}/cygnet/api/folders", timeout=60).json()["folders"])
    assert api[OWNER].delete(f"{owner_url}/cygnet/api/folders/{folder['id']}", timeout=60).ok


def test_a_colleague_in_a_shared_session_opens_the_notebook_with_their_own_kernel(sharing_hub, accounts):
    """*Open My Own Kernel on This Notebook*: a colleague working in the owner's shared session
    asks where their own session has the notebook; in a folder shared live with them it opens
    there (after a look at what is shared), where a kernel runs as them; elsewhere the answer
    says what to ask the owner."""
    hub, api, tokens = sharing_hub
    owner, colleague = api[OWNER], api[COLLEAGUE]
    hub.start_session(hub.login(COLLEAGUE), COLLEAGUE, {"view": f"LCG_iso/{PLATFORM}"})
    owner_url, colleague_url = f"{hub.url}/user/{OWNER}", f"{hub.url}/user/{COLLEAGUE}"
    assert owner.put(f"{owner_url}/api/contents/ana", json={"type": "directory"}, timeout=30).ok
    notebook = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    assert owner.put(f"{owner_url}/api/contents/ana/fit.ipynb", json=notebook, timeout=30).ok
    assert owner.put(f"{owner_url}/api/contents/private.ipynb", json=notebook, timeout=30).ok
    folder = owner.post(f"{owner_url}/cygnet/api/folders", json={"path": "ana", "users": [COLLEAGUE]}, timeout=60)
    assert folder.status_code == 201, folder.text
    assert owner.post(session_api(hub, "/shares"), json={"users": [COLLEAGUE]}, timeout=60).status_code == 201
    try:
        own = f"{owner_url}/cygnet/api/folders/own-kernel"
        r = colleague.get(own, params={"path": "ana/fit.ipynb"}, timeout=60)
        assert r.status_code == 200, r.text
        there = r.json()
        assert there["path"] == f"shared/{OWNER}/ana/fit.ipynb", there
        assert there["url"].startswith("/hub/user-redirect/cygnet/folders/open?path="), there
        # The hub sends the colleague to their own session, which links the folder and opens it.
        landing = there["url"].replace("/hub/user-redirect/", f"/user/{COLLEAGUE}/")
        r = colleague.get(f"{hub.url}{landing}", allow_redirects=False, timeout=60)
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/lab/tree/shared/{OWNER}/ana/fit.ipynb"), (
            r.status_code,
            r.headers,
            r.text[:300],
        )
        got = colleague.get(f"{colleague_url}/api/contents/shared/{OWNER}/ana/fit.ipynb", timeout=30)
        assert got.ok, got.text
        kernel = hub.kernel(COLLEAGUE, tokens[COLLEAGUE], kernel_name("LCG_iso", PLATFORM))
        try:
            assert kernel.run("import os; print(os.getuid())").strip() == str(accounts[COLLEAGUE].pw_uid)
        finally:
            kernel.shutdown()

        r = colleague.get(own, params={"path": "private.ipynb"}, timeout=60)
        assert r.status_code == 404 and f"ask {OWNER} to share its folder" in r.json()["message"], r.text
        r = owner.get(own, params={"path": "ana/fit.ipynb"}, timeout=60)
        assert r.status_code == 400 and "your own session" in r.json()["message"], r.text
        r = colleague.get(f"{colleague_url}/cygnet/folders/open", params={"path": "../etc"}, timeout=60)
        assert r.status_code == 400, r.text
    finally:
        owner.delete(session_api(hub, f"/shares/{COLLEAGUE}"), timeout=60)
        owner.delete(f"{owner_url}/cygnet/api/folders/{folder.json()['id']}", timeout=60)


def test_the_hub_services_metrics_answer_only_a_token_with_read_metrics(sharing_hub):
    hub, api, _ = sharing_hub
    shares = api[OWNER].get(f"{hub.url}/services/cygnet-shares/metrics", timeout=60)
    assert shares.status_code == 200, shares.text
    for name in ("cygnet_hub_shares", "cygnet_gallery_entries", "cygnet_live_folders", "cygnet_share_page_views"):
        assert name in shares.text, name
    runs = api[OWNER].get(f"{hub.url}/services/cygnet-runs/metrics", timeout=60)
    assert runs.status_code == 200 and "cygnet_runs_service_wake_ups" in runs.text, runs.text[-500:]
    for service in ("cygnet-shares", "cygnet-runs"):
        refused = api[COLLEAGUE].get(f"{hub.url}/services/{service}/metrics", timeout=60)
        assert refused.status_code == 403 and "read:metrics" in refused.json()["message"], refused.text
