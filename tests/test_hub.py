"""`cygnet hub`: a real JupyterHub with configurable-http-proxy on loopback, Cygnet's spawner
and its form, users logging in and spawning as people do."""

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.cli import PLATFORM, cygnet
from tests.support.hub import Hub
from tests.support.waiting import wait_for


def test_the_form_offers_the_sites_views_and_a_session_starts_on_the_chosen_one(hub):
    alice = hub.login("alice")
    page, action = hub.spawn_form(alice)
    assert action and f"LCG_second/{PLATFORM}" in page.text and f"LCG_marker/{PLATFORM}" in page.text
    assert "LCG_nosetup" not in page.text and "LCG_nopython" not in page.text, "broken views are not offered"
    r = hub.spawn(alice, {"view": f"LCG_second/{PLATFORM}", "cores": "2", "memory": "4G", "cluster": "local"})
    assert r.status_code == 302, r.text[:500]
    hub.wait_ready(alice, "alice")
    specs = hub.user_get(alice, "alice", "/api/kernelspecs").json()
    assert specs["default"] == f"lcg_second__{PLATFORM}", specs["default"]
    assert hub.user_get(alice, "alice", "/cygnet/api/views").status_code == 200


@pytest.mark.parametrize(
    "options, words",
    [
        ({"view": "../../etc"}, "not one of this site's usable views"),
        ({"view": f"LCG_nosetup/{PLATFORM}"}, "not one of this site's usable views"),
        ({"cores": "10000"}, "cores must be one of"),
        ({"memory": "1T"}, "memory must be one of"),
        ({"cluster": "nowhere"}, "not in this site's Spark catalogue"),
    ],
)
def test_tampered_choices_are_refused_with_the_reason(hub, options, words):
    name = "bob" + str(abs(hash(words)) % 10000)  # a user per case: none of them gets a session
    bob = hub.login(name)
    r = hub.spawn(bob, {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none", **options})
    assert r.status_code == 400 and words in html.unescape(r.text), (r.status_code, r.text[-800:])


def test_the_password_stays_out_of_the_hub_log(hub):
    hub.login("carol")
    assert hub.password not in hub.log()


def test_the_rest_api_takes_the_same_options_through_the_same_checks(hub):
    dana = hub.login("dana")
    xsrf = dana.cookies.get("_xsrf", path="/hub/")
    token = dana.post(
        f"{hub.url}/hub/api/users/dana/tokens", json={"note": "test"}, headers={"X-XSRFToken": xsrf}, timeout=30
    )
    assert token.status_code == 201, token.text
    api = {"Authorization": f"token {token.json()['token']}"}
    bad = dana.post(f"{hub.url}/hub/api/users/dana/server", json={"view": "nope", "cores": 1}, headers=api, timeout=60)
    assert bad.status_code == 400 and "not one of this site's usable views" in bad.text, bad.text
    good = dana.post(
        f"{hub.url}/hub/api/users/dana/server",
        headers=api,
        timeout=120,
        json={"view": f"LCG_marker/{PLATFORM}", "cores": 1, "memory": "2G", "cluster": "none"},
    )
    assert good.status_code in (201, 202), good.text
    model = dana.get(f"{hub.url}/hub/api/users/dana", headers=api, timeout=30).json()
    assert model["servers"][""]["user_options"]["view"] == f"LCG_marker/{PLATFORM}"


def test_the_idle_culler_stops_an_idle_session_and_its_spark_jvm(tmp_path, spark_view):
    import psutil

    site = tmp_path / "site_config.py"
    # The session reports its activity every 5 s, so the culler knows within seconds that the
    # kernel is busy (a slow first Spark connect is not idleness) and when it has gone idle.
    site.write_text(
        "c.CygnetHub.cull_idle_timeout = 20\nc.CygnetHub.cull_every = 5\n"
        "c.Spawner.environment = {'JUPYTERHUB_ACTIVITY_INTERVAL': '5'}\n"
    )
    env = {"CYGNET_VIEWS_PATH": str(spark_view), "SPARK_LOCAL_IP": "127.0.0.1"}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    try:
        erin_web = hub.login("erin")
        hub.start_session(erin_web, "erin", {"view": f"sparktest/{PLATFORM}", "cores": "1", "cluster": "local"})
        token = hub.token(erin_web, "erin")
        kernel = hub.kernel("erin", token, f"sparktest__{PLATFORM}".lower())
        out = kernel.run(
            "import cygnet.spark\n"
            "spark = cygnet.spark.connect()\n"  # the session's cluster: local, from the form
            "print('jvm', spark.range(10).count(), spark.sparkContext._gateway.proc.pid, flush=True)\n"
            "import time; time.sleep(30)\n"  # silent and busy for longer than the cull timeout: not idle
            "print('still here')",
            timeout=240,
        )
        assert "still here" in out, out
        count, jvm = next(line for line in out.splitlines() if line.startswith("jvm ")).split()[1:]
        assert count == "10" and psutil.pid_exists(int(jvm)), out
        kernel.ws.close()  # nothing more from erin: the session goes idle
        deadline = time.monotonic() + 180
        while hub.user_get(erin_web, "erin", "/api/status").status_code == 200:
            assert time.monotonic() < deadline, "the idle session was not culled within 180 s"
            time.sleep(2)
        assert "cygnet-idle-culler" in hub.log() and "Culling server" in hub.log()
        while psutil.pid_exists(int(jvm)) and psutil.Process(int(jvm)).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline + 30, "the session's Spark JVM outlived it"
            time.sleep(1)
    finally:
        hub.stop()


def test_each_user_gets_a_slice_of_the_spark_port_range_of_their_own():
    from cygnet.core.errors import BadInput
    from cygnet.hub.options import port_block

    slices = [port_block(user_id, "40000-40999", 30) for user_id in range(1, 34)]
    assert slices[0] == "40000-40029" and slices[1] == "40030-40059" and slices[32] == "40960-40989"
    assert len(set(slices)) == 33, "33 users, 33 slices of 30 ports"
    assert port_block(34, "40000-40999", 30) == "40000-40029", "more users than slices share again in turn"
    assert port_block(1, "40000-40010", 30) == "40000-40010", "a range smaller than a slice is not split"
    with pytest.raises(BadInput):
        port_block(1, "40000-40999", 2)


def test_one_user_cannot_reach_anothers_session(hub):
    alice = hub.login("alice")
    _, action = hub.spawn_form(alice)
    if action:  # alice has no session yet (this test run alone)
        alice.post(action, data={"view": f"LCG_marker/{PLATFORM}"}, timeout=120)
    hub.wait_ready(alice, "alice")
    mallory = hub.login("mallory")
    for path in ("/api/status", "/api/contents/", "/cygnet/api/views", "/cygnet/api/shares", "/cygnet/api/sync"):
        r = mallory.get(f"{hub.url}/user/alice{path}", timeout=30)
        assert r.status_code in (403, 404) or "/user/mallory" in r.url or "/hub/" in r.url, (path, r.status_code, r.url)
        assert not (r.status_code == 200 and r.url.startswith(f"{hub.url}/user/alice")), (path, r.text[:200])


def _events(api, url):
    """The (event, data) pairs of a server-sent event stream (the opener's)."""
    import json

    events, event = [], "message"
    with api.get(url, stream=True, timeout=120) as r:
        assert r.status_code == 200, r.text
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[5:])))
    return events


def test_shares_live_in_the_hub_service_and_outlive_the_owners_session(hub):
    marker = {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"}
    alice_web, bob_web = hub.login("alice"), hub.login("bob")
    alice, bob = hub.api(hub.token(alice_web, "alice")), hub.api(hub.token(bob_web, "bob"))
    hub.start_session(alice_web, "alice", marker)
    hub.start_session(bob_web, "bob", marker)
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "alice-was-here"}], "metadata": {}}
    put = alice.put(
        f"{hub.url}/user/alice/api/contents/result.ipynb",
        json={"type": "notebook", "format": "json", "content": {**notebook, "nbformat": 4, "nbformat_minor": 5}},
        timeout=30,
    )
    assert put.status_code in (200, 201), put.text

    made = alice.post(f"{hub.url}/user/alice/cygnet/api/shares", json={"path": "result.ipynb", "users": ["bob"]})
    assert made.status_code == 201, made.text
    share = made.json()
    assert share["url"].startswith(f"{hub.url}/services/cygnet-shares/s/"), share["url"]
    page = requests.get(share["url"], timeout=30).text
    assert "alice-was-here" in page and "/hub/user-redirect/cygnet/open?share=" in page, page[-800:]

    # bob finds it in his Shared panel and opens a copy in his own workspace
    mine = bob.get(f"{hub.url}/user/bob/cygnet/api/shares/with-me", timeout=30).json()
    assert [s["id"] for s in mine] == [share["id"]] and mine[0]["owner"] == "alice"
    events = _events(bob, f"{hub.url}/user/bob/cygnet/api/open?shared={share['id']}")
    assert events[-1][0] == "done", events
    copy = bob.get(f"{hub.url}/user/bob/api/contents/{events[-1][1]['path']}", timeout=30).json()
    assert "alice-was-here" in str(copy["content"])

    # bob can neither see nor revoke alice's share, through his session or the service
    assert bob.get(f"{hub.url}/user/bob/cygnet/api/shares", timeout=30).json() == []
    assert bob.delete(f"{hub.url}/user/bob/cygnet/api/shares/{share['id']}", timeout=30).status_code == 404
    service = f"{hub.url}/services/cygnet-shares/api/shares"
    assert bob.delete(f"{service}/{share['id']}", timeout=30).status_code == 404
    assert requests.get(service, timeout=30).status_code == 403, "the API needs a hub token"

    # a refresh goes through alice's session (which holds the original) to the service
    notebook["cells"][0]["source"] = "alice-refreshed"
    content = {**notebook, "nbformat": 4, "nbformat_minor": 5}
    alice.put(f"{hub.url}/user/alice/api/contents/result.ipynb", json={"type": "notebook", "content": content})
    refreshed = alice.post(f"{hub.url}/user/alice/cygnet/api/shares/{share['id']}/refresh", timeout=60)
    assert refreshed.status_code == 200 and refreshed.json()["rev"] == 2, refreshed.text
    assert "alice-refreshed" in requests.get(share["url"], timeout=30).text

    # alice's session stops: the link still works; alice revokes it from the service itself
    hub.stop_session(alice, "alice")
    assert "alice-refreshed" in requests.get(share["url"], timeout=30).text
    assert [s["id"] for s in alice.get(service, timeout=30).json()] == [share["id"]]
    assert alice.delete(f"{service}/{share['id']}", timeout=30).status_code == 204
    assert requests.get(share["url"], timeout=30).status_code == 404
    # A logged-out visitor's open link passes through the hub's login, the token URL-encoded in next=.
    login = requests.get(
        f"{hub.url}/hub/login", params={"next": f"/hub/user-redirect/cygnet/open?share={share['token']}"}, timeout=30
    )
    assert login.status_code == 200
    hub.wait_for_log("/hub/login?next=")
    assert share["token"] not in hub.log(), "share tokens stay out of the hub's log, plain or encoded"


def test_a_notebook_published_to_the_gallery_opens_as_a_copy_for_another_user(hub):
    marker = {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"}
    ann_web, ben_web = hub.login("gal-ann"), hub.login("gal-ben")
    ann, ben = hub.api(hub.token(ann_web, "gal-ann")), hub.api(hub.token(ben_web, "gal-ben"))
    hub.start_session(ann_web, "gal-ann", marker)
    hub.start_session(ben_web, "gal-ben", marker)
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "ann-gallery-marker"}]
    content = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    put = ann.put(f"{hub.url}/user/gal-ann/api/contents/w.ipynb", json={"type": "notebook", "content": content})
    assert put.status_code in (200, 201), put.text
    share = ann.post(f"{hub.url}/user/gal-ann/cygnet/api/shares", json={"path": "w.ipynb"}, timeout=60).json()
    published = ann.post(
        f"{hub.url}/user/gal-ann/cygnet/api/shares/{share['id']}/gallery",
        json={"title": "W boson mass", "description": "a template fit"},
        timeout=60,
    )
    assert published.status_code == 201 and published.json()["title"] == "W boson mass", published.text
    mine = ann.get(f"{hub.url}/user/gal-ann/cygnet/api/shares", timeout=30).json()
    assert mine[0]["gallery"] == {"title": "W boson mass", "description": "a template fit", "hidden": False}

    gallery = f"{hub.url}/services/cygnet-shares/gallery"
    listing = requests.get(gallery, params={"q": "boson"}, timeout=30)
    assert listing.status_code == 200 and "W boson mass" in listing.text and "gal-ann" in listing.text
    page = requests.get(f"{gallery}/{share['id']}", timeout=30).text
    assert "ann-gallery-marker" in page and f"/hub/user-redirect/cygnet/open?gallery={share['id']}" in page

    events = _events(ben, f"{hub.url}/user/gal-ben/cygnet/api/open?gallery={share['id']}")
    assert events[-1][0] == "done", events
    copy = ben.get(f"{hub.url}/user/gal-ben/api/contents/{events[-1][1]['path']}", timeout=30).json()
    assert "ann-gallery-marker" in str(copy["content"])

    # Only the owner unpublishes; only an admin hides.
    gone = ben.delete(f"{hub.url}/user/gal-ben/cygnet/api/shares/{share['id']}/gallery", timeout=30)
    assert gone.status_code == 404, gone.text
    hide = ben.put(f"{hub.url}/services/cygnet-shares/api/gallery/{share['id']}/hidden", timeout=30)
    assert hide.status_code == 403 and "admins" in hide.json()["message"], hide.text
    assert ann.delete(f"{hub.url}/user/gal-ann/cygnet/api/shares/{share['id']}/gallery", timeout=30).status_code == 204
    assert requests.get(f"{gallery}/{share['id']}", timeout=30).status_code == 404
    assert "W boson mass" not in requests.get(gallery, timeout=30).text
    events = _events(ben, f"{hub.url}/user/gal-ben/cygnet/api/open?gallery={share['id']}")
    assert events[-1][0] == "failed" and "gallery" in events[-1][1]["message"], events


def test_links_are_hub_aware_and_nbgitpuller_links_still_work(hub):
    marker = {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"}
    frank = hub.login("frank")
    hub.start_session(frank, "frank", marker)
    link = hub.user_get(frank, "frank", "/cygnet/link?repo=https://example.org/course.git&path=intro.ipynb").json()
    assert link["url"].startswith(f"{hub.url}/hub/user-redirect/cygnet/open?"), link
    # an old nbgitpuller link, followed by someone logged in: it lands on their own open page
    old = "/hub/user-redirect/git-pull?repo=https://example.org/course.git&urlpath=lab/tree/course/intro.ipynb"
    r = frank.get(hub.url + old, timeout=60)
    assert r.status_code == 200 and r.url.startswith(f"{hub.url}/user/frank/cygnet/open?"), r.url
    assert "repo=https" in r.url and "path=intro.ipynb" in r.url


def test_ten_users_spawning_at_once_all_get_their_session(hub):
    from concurrent.futures import ThreadPoolExecutor

    marker = {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"}
    names = [f"crowd{i}" for i in range(10)]
    browsers = {name: hub.login(name) for name in names}

    def spawn(name):
        started = time.monotonic()
        hub.start_session(browsers[name], name, marker, timeout=240)
        assert hub.user_get(browsers[name], name, "/api/status").status_code == 200
        return time.monotonic() - started

    with ThreadPoolExecutor(len(names)) as pool:
        times = list(pool.map(spawn, names))
        assert len(times) == 10
        list(pool.map(lambda name: hub.stop_session(browsers[name], name), names))  # the machine back


def test_the_environment_script_runs_after_the_view_and_open_lands_on_the_file(hub):
    gina_web = hub.login("gina")
    gina_token = hub.token(gina_web, "gina")
    gina = hub.api(gina_token)
    for bad, words in (("/etc/profile", "inside your workspace"), ("../x.sh", "inside your workspace")):
        r = hub.spawn(gina_web, {"view": f"LCG_marker/{PLATFORM}", "env_script": bad})
        assert r.status_code == 400 and words in html.unescape(r.text), r.text[-500:]
    r = hub.spawn(gina_web, {"view": f"LCG_marker/{PLATFORM}", "open": "file:///etc/passwd"})
    assert r.status_code == 400 and "http(s) URL or a path" in html.unescape(r.text)

    options = {"view": f"LCG_marker/{PLATFORM}", "cluster": "local", "env_script": "env.sh", "open": "notes.md"}
    r = hub.spawn(gina_web, options)
    assert r.status_code == 302, r.text[-500:]
    hub.wait_ready(gina_web, "gina")
    landing = gina_web.get(f"{hub.url}/user/gina/", timeout=60, allow_redirects=False)
    assert landing.headers["Location"].rstrip("?").endswith("/user/gina/lab/tree/notes.md"), landing.headers
    script = "export GINA_MARKER=from-env-script\n"
    put = gina.put(
        f"{hub.url}/user/gina/api/contents/env.sh", json={"type": "file", "format": "text", "content": script}
    )
    assert put.status_code in (200, 201), put.text
    kernel = hub.kernel("gina", gina_token, f"lcg_marker__{PLATFORM}")
    try:
        status, out, err = kernel.execute(
            "import os; print(*(os.environ[k] for k in ('GINA_MARKER', 'CYGNET_TEST_MARKER', 'CYGNET_SPARK_CLUSTER')))"
        )
        assert status == "ok", err
        assert out.split() == ["from-env-script", "marker-LCG_marker", "local"], out
    finally:
        kernel.shutdown()
    clusters = gina.get(f"{hub.url}/user/gina/cygnet/api/spark/clusters", timeout=30).json()
    assert [c["name"] for c in clusters if c["default"]] == ["local"], "the Spark panel starts on the chosen one"
    model = gina.get(f"{hub.url}/hub/api/users/gina", timeout=30).json()
    kept = model["servers"][""]["user_options"]
    assert kept["env_script"] == "env.sh" and "open" not in kept, "what to open is done once, not kept"


def test_a_link_fills_and_submits_the_form(hub):
    """SWAN's "generate URL": /hub/spawn?view=...&cluster=...&open=... starts everyone on the
    same stack; a tampered link is refused like a tampered form."""
    from urllib.parse import urlencode

    kim = hub.login("kim")
    bad = kim.get(f"{hub.url}/hub/spawn?" + urlencode({"view": "../../etc"}), timeout=60)
    assert bad.status_code == 400 and "not one of this site's usable views" in html.unescape(bad.text)
    query = urlencode({"view": f"LCG_second/{PLATFORM}", "cluster": "local", "open": "intro.ipynb"})
    r = kim.get(f"{hub.url}/hub/spawn?{query}", timeout=120, allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[-500:])
    hub.wait_ready(kim, "kim")
    token = hub.token(kim, "kim")
    model = hub.api(token).get(f"{hub.url}/hub/api/users/kim", timeout=30).json()
    assert model["servers"][""]["user_options"]["view"] == f"LCG_second/{PLATFORM}"
    landing = kim.get(f"{hub.url}/user/kim/", timeout=60, allow_redirects=False)
    assert landing.headers["Location"].rstrip("?").endswith("/user/kim/lab/tree/intro.ipynb"), landing.headers


def test_the_hubs_dask_gateway_gives_each_user_clusters_of_their_own(tmp_path, spark_view):
    """dask-gateway-server as a hub service with JupyterHub authentication (CygnetHub.dask_gateway):
    sessions find it in their catalogue, its workers run in the view, and users see only theirs."""
    import os
    import signal

    site = tmp_path / "site_config.py"
    site.write_text("c.CygnetHub.dask_gateway = True\nc.CygnetHub.cull_idle_timeout = 0\n")
    env = {"CYGNET_VIEWS_PATH": str(spark_view), "SPARK_LOCAL_IP": "127.0.0.1"}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    try:
        view = {"view": f"sparktest/{PLATFORM}", "cores": "1", "cluster": "none"}
        tokens = {}
        for user in ("dana", "eve"):
            web = hub.login(user)
            hub.start_session(web, user, view)
            tokens[user] = hub.token(web, user)
        kernel = hub.kernel("dana", tokens["dana"], f"sparktest__{PLATFORM}".lower())
        out = kernel.run("%dask connect --cluster dask-gateway --workers 1 --option worker_memory=1", timeout=300)
        assert "Dask: connected to dask-gateway (dask-gateway)" in out, out
        kernel.run("client.wait_for_workers(1, timeout=120)", timeout=150)
        tagged = kernel.run("print(client.submit(__import__('cygnet_view_only').tag, 5).result())", timeout=60)
        assert tagged.strip() == "view-5"
        name = kernel.run("import cygnet.dask.session as s; print(s.STATE.cluster.name)").strip()
        # The dashboard is linked through the hub (the session reaches the gateway on loopback).
        dashboard = kernel.run("import cygnet.dask; print(cygnet.dask.status()['dashboard_url'])").strip()
        assert dashboard == f"/services/dask-gateway/clusters/{name}/status", dashboard
        page = requests.get(hub.url + dashboard, timeout=60)
        assert page.status_code == 200 and "Dask" in page.text, (page.status_code, page.text[:200])

        gateway = f"{hub.url}/services/dask-gateway/api/v1/clusters/"
        mine = requests.get(gateway, headers={"Authorization": f"jupyterhub {tokens['dana']}"}, timeout=30)
        theirs = requests.get(gateway, headers={"Authorization": f"jupyterhub {tokens['eve']}"}, timeout=30)
        assert mine.status_code == 200 and name in mine.json(), mine.text
        assert theirs.status_code == 200 and theirs.json() == {}, "eve sees none of dana's clusters"
        stop = requests.delete(gateway + name, headers={"Authorization": f"jupyterhub {tokens['eve']}"}, timeout=30)
        assert (
            name in requests.get(gateway, headers={"Authorization": f"jupyterhub {tokens['dana']}"}, timeout=30).json()
        )
        assert stop.status_code in (403, 404, 204) and stop.status_code != 500
        anonymous = requests.get(gateway, timeout=30)
        assert anonymous.status_code == 401

        # dana's kernel dies: her session stops the cluster.
        os.kill(int(kernel.run("import os; print(os.getpid())")), signal.SIGKILL)
        deadline = time.monotonic() + 90
        while (
            name in requests.get(gateway, headers={"Authorization": f"jupyterhub {tokens['dana']}"}, timeout=30).json()
        ):
            assert time.monotonic() < deadline, "the killed kernel's gateway cluster still runs"
            time.sleep(2)
    finally:
        hub.stop()


def test_a_session_whose_port_another_program_took_starts_again_on_another(tmp_path, lcg_root):
    """Any program on the machine may take the port the spawner picked before the session's
    server binds it (met in CI: another test's server); that server exits, and the spawner
    starts it again on another port instead of failing the spawn."""
    root, _ = lcg_root
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as taken:  # answers 501 to a GET
        threading.Thread(target=taken.serve_forever, daemon=True).start()
        port = taken.server_address[1]
        site = tmp_path / "site_config.py"
        site.write_text(f"c.Spawner.port = {port}\n")  # the spawner's pick, made the taken port
        hub = Hub(tmp_path / "data", env={"CYGNET_VIEWS_PATH": str(root)}, args=[f"--config={site}"]).start()
        try:
            web = hub.login("olga")
            choice = {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"}
            hub.start_session(web, "olga", choice)
            assert f"olga's session found port {port} taken; starting it on another" in hub.log()
            hub.stop_session(hub.api(hub.token(web, "olga")), "olga")
        finally:
            hub.stop()
            taken.shutdown()


def test_a_user_runs_two_named_sessions_side_by_side_each_with_its_own_choices(hub):
    user = "nina"
    web = hub.login(user)
    hub.start_session(web, user, {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"})
    page, action = hub.spawn_form(web, f"{user}/second")
    assert action and f"LCG_second/{PLATFORM}" in page.text, "a named server gets the form too"
    choice = {"view": f"LCG_second/{PLATFORM}", "cores": "2", "memory": "4G", "cluster": "none"}
    r = web.post(action, data=choice, timeout=120, allow_redirects=False)
    assert r.status_code == 302, r.text[-500:]
    hub.wait_ready(web, f"{user}/second")
    token = hub.token(web, user)
    api = hub.api(token)
    servers = api.get(f"{hub.url}/hub/api/users/{user}", timeout=30).json()["servers"]
    assert servers[""]["user_options"]["view"] == f"LCG_marker/{PLATFORM}"
    assert servers["second"]["user_options"]["view"] == f"LCG_second/{PLATFORM}"
    assert "second" in web.get(f"{hub.url}/hub/home", timeout=30).text, "the home page lists named servers"
    # Each runs kernels on its own view, at once.
    first = hub.kernel(user, token, f"lcg_marker__{PLATFORM}")
    second = hub.kernel(f"{user}/second", token, f"lcg_second__{PLATFORM}")
    try:
        where = "import os; print(os.environ['CYGNET_VIEW'])"
        assert first.run(where).strip().startswith("LCG_marker")
        assert second.run(where).strip().startswith("LCG_second")
        # Stopping one leaves the other and its kernel running.
        r = api.delete(f"{hub.url}/hub/api/users/{user}/servers/second", timeout=60)
        assert r.status_code in (202, 204), r.text
        wait_for(
            lambda: "second" not in api.get(f"{hub.url}/hub/api/users/{user}", timeout=30).json()["servers"],
            "the named server stops",
            60,
        )
        assert first.run("print(6 * 7)").strip() == "42"
    finally:
        first.shutdown()
    hub.stop_session(api, user)
    # The usage ledger has both sessions, each with its cores, ended; its page is for admins only.
    ledger = hub.data_dir / "hub" / "usage.sqlite"
    out = cygnet("usage", "--ledger", str(ledger), "--user", user, "--sessions", "--format", "json")
    assert out.returncode == 0, out.stderr
    sessions = {r["server"]: r for r in json.loads(out.stdout)["rows"]}
    assert sessions[""]["cores"] == 1 and sessions["second"]["cores"] == 2, sessions
    assert all(r["ended"] and r["core_hours"] > 0 for r in sessions.values()), sessions
    assert web.get(f"{hub.url}/hub/cygnet-usage", timeout=30).status_code == 403


def test_a_session_reports_its_cluster_cores_to_the_hubs_ledger_for_its_user_only(hub):
    """What a session's kernels run on clusters (their usage records, as a Spark connect to a
    cluster writes them) reaches the hub's ledger through the session's own token, ended when the
    session stops; the report API takes a user's own rows only, and checks what it is given."""
    user, other = "olga", "pavel"
    web = hub.login(user)
    hub.start_session(web, user, {"view": f"LCG_marker/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "none"})
    token = hub.token(web, user)
    api = hub.api(token)
    kernel = hub.kernel(user, token, f"lcg_marker__{PLATFORM}")
    try:
        kernel.run(
            "from cygnet.compute import usage\n"
            "usage.end(usage.begin('spark', 'prod', 'standalone', cores=4, counted=True))\n"
            "running = usage.begin('spark', 'prod', 'standalone', cores=8, counted=True)\n"  # when the session stops
            "usage.begin('spark', 'local', 'local', cores=2)\n"  # the session's own cores: not reported
        )
    finally:
        kernel.ws.close()  # the kernel stays: it still runs when its session stops
    hub.stop_session(api, user)
    ledger = hub.data_dir / "hub" / "usage.sqlite"
    out = cygnet("usage", "--ledger", str(ledger), "--user", user, "--sessions", "--format", "json")
    assert out.returncode == 0, out.stderr
    spark = sorted(
        (r["cores"], r["detail"], bool(r["ended"])) for r in json.loads(out.stdout)["rows"] if r["kind"] == "spark"
    )
    assert spark == [(4.0, "Spark on prod", True), (8.0, "Spark on prod", True)], out.stdout

    report = f"{hub.url}/hub/api/users/{user}/cygnet-usage"
    now = time.time()
    entry = {"ref": "dask-gateway/x/scheduler", "kind": "run", "cores": 1, "started": now - 60, "ended": now}
    assert api.post(report, json={"server": "", "entries": [entry]}, timeout=30).status_code == 200
    other_web = hub.login(other)
    as_other = hub.api(hub.token(other_web, other))
    refused = as_other.post(report, json={"server": "", "entries": [entry]}, timeout=30)
    assert refused.status_code in (403, 404), "one user cannot report (or overwrite) another's usage"
    for bad, says in (
        ({**entry, "kind": "session"}, "kind is one of spark, run"),
        ({**entry, "cores": -1}, "cores is a number"),
        ({**entry, "started": now - 90 * 86400}, "within the last 40 days"),
        ({**entry, "ended": now - 3600}, "ended is null or a time between started and now"),
    ):
        answer = api.post(report, json={"server": "", "entries": [bad]}, timeout=30)
        assert answer.status_code == 400 and says in answer.json()["message"], answer.text
    out = cygnet("usage", "--ledger", str(ledger), "--sessions", "--format", "json", "--since", "2020-01-01")
    rows = json.loads(out.stdout)["rows"]
    gateway_like = [r for r in rows if r["kind"] == "run" and r["user"] == user]
    assert len(gateway_like) == 1 and not [r for r in rows if r["user"] == other], rows
