"""Cygnet under an unlucky or hostile user: slow servers that must not stall the service, links
that must not reach the site's own network, stores that must not be trusted, secrets that must
stay out of logs, syncs that run at once or are cut off, and re-opens that keep the user's work.
Everything real, on 127.0.0.1."""

import json
import os
import sqlite3
import threading
import time
import uuid

import pytest
import requests

from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.server.opener.core import OpenSettings, open_link
from cygnet.server.opener.policy import OpenPolicy
from cygnet.shares.store import ShareStore
from cygnet.storage.sync_engine import sync
from tests.support.gitserve import StaticServer, Upstream
from tests.support.hostile import DripServer, RedirectServer
from tests.support.jupyter import JupyterServer

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def events(server, params, timeout=60):
    return server.events("/cygnet/api/open", params, timeout=timeout)


# --- one slow link must not stall the service ------------------------------------------------------
@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, lcg_root):
    """A server with short open limits, so slow servers are cut off within the test."""
    root, _ = lcg_root
    env = {"CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("strict-data")), "CYGNET_VIEWS_PATH": str(root)}
    srv = JupyterServer(
        env=env,
        root=tmp_path_factory.mktemp("strict-ws"),
        args=[
            "--Cygnet.open_timeout=4",
            "--Cygnet.open_internal_hosts=127.0.0.1",
            "--Cygnet.long_work_per_user=4",
            "--Cygnet.build_default_view=False",
        ],
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_dripping_download_is_cut_off_at_the_deadline(tmp_path, where):
    drip = DripServer(where, interval=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="not done within 2 s"):
            open_link(
                {"url": f"{drip.url}/nb.ipynb"},
                tmp_path,
                OpenSettings(policy=OpenPolicy(internal=("127.0.0.1",)), timeout=2),
            )
        assert time.monotonic() - started < 4
    finally:
        drip.stop()
    assert not list(tmp_path.iterdir()), "no partial download left behind"


def test_slow_opens_neither_stall_quick_requests_nor_run_past_their_limit(strict_server):
    drip = DripServer("body", interval=1.0)
    results = []

    def open_slowly():
        r = strict_server.get("/cygnet/api/open", params={"url": f"{drip.url}/nb.ipynb"}, stream=True)
        results.append((r.status_code, r.text))

    threads = [threading.Thread(target=open_slowly) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(1)
        slowest = 0
        for _ in range(10):
            for path in ("/cygnet/api/views", "/cygnet/api/shares", "/cygnet/api/sync", "/cygnet/api/spark/clusters"):
                started = time.monotonic()
                assert strict_server.get(path).status_code == 200
                slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1, f"a quick request took {slowest:.2f} s while opens dripped"
        for t in threads:
            t.join(20)
    finally:
        drip.stop()
    statuses = sorted(code for code, _ in results)
    assert statuses == [200] * 4 + [429] * 4, results
    assert all("not done within 4 s" in text for code, text in results if code == 200)
    assert all("too many at once" in text for code, text in results if code == 429)
    # Every slot was given back: a new open starts.
    assert strict_server.get("/cygnet/api/open", params={"url": f"{drip.url}/x.ipynb"}).status_code == 200


# --- links from strangers reach only what they should ---------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0x7f000001",
        "2130706433",
        "localhost",
        "[::1]",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.169.254",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_links_to_internal_addresses_are_refused_in_every_spelling(tmp_path, host):
    for params in ({"repo": f"http://{host}:9/x.git"}, {"url": f"http://{host}:9/x.ipynb"}):
        with pytest.raises(BadInput, match="loopback, private or link-local"):
            open_link(params, tmp_path, OpenSettings(timeout=5))


@pytest.mark.parametrize("spelling", ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "localhost"])
def test_an_internal_entry_with_a_port_allows_that_port_only(spelling):
    policy = OpenPolicy(internal=("127.0.0.1:9418",))
    assert policy.check_remote(f"git://{spelling}:9418/x.git")
    for url in (f"http://{spelling}:8888/x.git", f"git://{spelling}:9419/x.git", f"https://{spelling}/x.git"):
        with pytest.raises(BadInput, match="loopback, private or link-local"):
            policy.check_remote(url)
    # Without a port the entry allows every port of the address, as the admin guide says.
    assert OpenPolicy(internal=("127.0.0.1",)).check_remote(f"http://{spelling}:8888/x.git")
    assert OpenPolicy(internal=("[::1]:8022",)).check_remote("http://[::1]:8022/x.git")


def test_a_redirect_to_an_internal_address_is_refused(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "nb.ipynb").write_text(NOTEBOOK)
    served = StaticServer(files)
    redirect = RedirectServer(f"{served.url}/nb.ipynb")
    try:
        only_the_redirector = OpenSettings(policy=OpenPolicy(internal=(f"127.0.0.1:{redirect.port}",)), timeout=5)
        with pytest.raises(BadInput, match="loopback, private or link-local"):
            open_link({"url": f"{redirect.url}/nb.ipynb"}, tmp_path / "ws", only_the_redirector)
        both = OpenSettings(policy=OpenPolicy(internal=("127.0.0.1",)), timeout=5)
        assert open_link({"url": f"{redirect.url}/nb.ipynb"}, tmp_path / "ws", both).path == "nb.ipynb"
    finally:
        redirect.stop()
        served.stop()


def test_connection_errors_do_not_tell_ports_apart(tmp_path, git_daemon):
    from tests.support.jupyter import free_port

    closed = free_port()
    settings = OpenSettings(policy=OpenPolicy(internal=("127.0.0.1",)), timeout=5)
    messages = set()
    for url in (f"http://127.0.0.1:{closed}/x.git", f"git://127.0.0.1:{closed}/x.git"):
        with pytest.raises(Unavailable) as refused:
            open_link({"repo": url}, tmp_path, settings)
        messages.add(str(refused.value).replace(url, "URL"))
    with pytest.raises(Unavailable) as download:
        open_link({"url": f"http://127.0.0.1:{closed}/x.ipynb"}, tmp_path, settings)
    assert str(download.value) == f"could not fetch http://127.0.0.1:{closed}/x.ipynb"
    assert messages == {"cloning URL failed: could not fetch URL"}, messages


def test_ports_picked_for_servers_lie_outside_the_ranges_kernels_and_connections_draw_from(monkeypatch):
    """A port told to a server in advance (the hub's proxy API, a Spark master) must still be
    free when that server binds it: a kernel's ZMQ socket from bind(0) once took one."""
    import socket

    from cygnet.core import loopback
    from cygnet.core.loopback import KERNELS_FROM, LOWEST, ephemeral_range, free_port, kernel_port

    low, _ = ephemeral_range()
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST <= p < KERNELS_FROM for p in ports), sorted(ports)
    # Kernels pick apart from servers: a kernel never takes a port a hub told its proxy.
    assert all(KERNELS_FROM <= kernel_port() < low for _ in range(50))
    assert len(ports) > 40  # drawn at random, so two starts at once rarely pick the same one
    busy, idle = free_port(), free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy))
        taken.listen()
        monkeypatch.setattr(loopback.random, "sample", lambda population, k: [busy, idle])
        assert free_port() == idle  # a port something listens on is passed over
        assert free_port(avoid={idle}) not in (busy, idle)  # nor one handed out and not bound yet


def test_a_periodic_check_slower_than_its_interval_runs_one_round_at_a_time():
    """The server's periodic checks (cygnet.server.work.every): a round that outlasts the
    interval (a hung file system, a slow service) makes the next ones skip, not pile up."""
    import asyncio

    from cygnet.server.work import every

    async def scenario():
        slow_rounds, quick_rounds, release = 0, 0, asyncio.Event()

        async def slow():
            nonlocal slow_rounds
            slow_rounds += 1
            await release.wait()

        async def quick():
            nonlocal quick_rounds
            quick_rounds += 1

        timers = [every(0.01, slow), every(0.01, quick)]
        while quick_rounds < 20:  # twenty intervals pass while the first slow round hangs
            await asyncio.sleep(0.01)
        assert slow_rounds == 1
        release.set()
        while slow_rounds < 2:  # and the next is due once it ended
            await asyncio.sleep(0.01)
        for timer in timers:
            timer.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))


# --- nothing read from a store is trusted ----------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    s = ShareStore(tmp_path / "shares.sqlite", str(tmp_path / "box"), workspace)
    yield s
    s.close()


def test_a_share_row_written_behind_the_stores_back_reaches_nothing(store, tmp_path):
    (store.workspace / "a.txt").write_text("mine")
    share, token = store.create("a.txt", "alice")
    db = sqlite3.connect(tmp_path / "shares.sqlite")
    for files, path in (
        [[["../../../../etc/passwd", 10]], "a.txt"],
        [[["/etc/passwd", 10]], "a.txt"],
        [[["a.txt", 4]], "../../etc/a.txt"],
        [[[".ssh/id_rsa", 4]], "a.txt"],
    ):
        with db:
            db.execute(
                "UPDATE shares SET files = ?, path = ?, kind = 'folder' WHERE id = ?",
                (json.dumps(files), path, share.id),
            )
        with pytest.raises(NotFound):
            store.resolve(token)
        assert store.list("alice") == []
    db.close()


def test_a_link_planted_in_the_box_is_not_followed(store, tmp_path):
    (store.workspace / "a.txt").write_text("mine")
    share, token = store.create("a.txt", "alice")
    snapshot = tmp_path / "box" / share.id / "1" / "a.txt"
    snapshot.unlink()
    snapshot.symlink_to("/etc/passwd")
    with pytest.raises(NotFound):
        store.read(store.resolve(token))


def test_a_link_to_a_hidden_file_is_not_shared(store):
    (store.workspace / ".env").write_text("SECRET=1")
    (store.workspace / "notes.txt").symlink_to(store.workspace / ".env")
    with pytest.raises(BadInput, match="hidden"):
        store.create("notes.txt", "alice")


def test_a_box_inside_the_workspace_is_never_synced_into_itself(tmp_path):
    home = tmp_path / "home"  # hub-style: the workspace is $HOME, the data dir inside it
    data_dir = home / ".local" / "share" / "cygnet"
    (home / "work").mkdir(parents=True)
    (home / "work" / "x.txt").write_text("x")
    box = data_dir / "box"
    for _ in range(2):
        summary = sync(str(home), str(box), data_dir=str(data_dir))
    assert summary.copied == 0 and (box / "work" / "x.txt").read_text() == "x"
    assert not (box / ".local").exists()
    with pytest.raises(BadInput, match="inside the box"):
        sync(str(box / "work"), str(box), data_dir=str(data_dir))
    with pytest.raises(BadInput, match="share snapshots"):
        sync(
            str(home / "work"),
            str(box / ".cygnet-shares"),
            data_dir=str(data_dir),
            protected=[str(box / ".cygnet-shares")],
        )


# --- secrets stay out of logs; broken notebooks still render ---------------------------------------
def test_share_tokens_in_open_links_and_failing_pages_stay_out_of_the_log(server):
    rel = f"{unique('secret')}/n.ipynb"
    (server.root / rel).parent.mkdir()
    (server.root / rel).write_text(NOTEBOOK)
    token = server.post("/cygnet/api/shares", json={"path": rel}).json()["token"]
    requests.get(f"{server.url}/cygnet/open", params={"share": token}, allow_redirects=False, timeout=10)
    requests.get(f"{server.url}/cygnet/api/open", params={"share": token}, timeout=10)
    server.events("/cygnet/api/open", {"share": token})
    server.get("/cygnet/open", params={"share": token})
    requests.get(f"{server.url}/cygnet/s/{token}/raw/nope", timeout=10)
    time.sleep(0.5)
    assert token not in server.log()


def test_a_notebook_that_fails_validation_still_renders_and_is_cached(server):
    rel = f"{unique('invalid')}/bad.ipynb"
    (server.root / rel).parent.mkdir()
    (server.root / rel).write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "id": "not a valid id!", "metadata": {}, "source": "# Still here"},
                    {"cell_type": "markdown", "id": "twice", "metadata": {}, "source": "one"},
                    {"cell_type": "markdown", "id": "twice", "metadata": {}, "source": "two"},
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    share = server.post("/cygnet/api/shares", json={"path": rel}).json()
    first = requests.get(share["url"], timeout=30)
    assert first.status_code == 200 and "Still here" in first.text, first.text
    started = time.monotonic()
    assert requests.get(share["url"], timeout=30).headers["ETag"] == first.headers["ETag"]
    assert time.monotonic() - started < 0.5


# --- concurrent and interrupted syncs ----------------------------------------------------------------
def test_twenty_identical_sync_jobs_at_once_all_succeed(server):
    folder = server.root / unique("many")
    for i in range(200):
        (folder / f"d{i % 10}" / f"f{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"d{i % 10}" / f"f{i}.txt").write_text(str(i) * 1000)
    body = {"src": folder.name, "dest": folder.name}
    answers = []

    def post():
        answers.append(server.post("/cygnet/api/sync", json=body))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in answers} <= {202, 429}, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers if r.status_code == 202}
    for job_id in ids:
        deadline = time.monotonic() + 120
        while (job := server.get(f"/cygnet/api/sync/{job_id}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["state"] == "done", job
    listed = {j["id"] for j in server.get("/cygnet/api/sync").json()}
    assert ids <= listed


def test_syncs_of_different_folders_into_one_box_take_turns(tmp_path):
    box, data_dir = tmp_path / "box", tmp_path / "data"
    errors = []

    def one(i):
        src = tmp_path / f"src{i}"
        for j in range(30):
            (src / f"f{j}.bin").parent.mkdir(parents=True, exist_ok=True)
            (src / f"f{j}.bin").write_bytes(os.urandom(20000))
        try:
            sync(str(src), str(box / f"src{i}"), data_dir=str(data_dir))
            # a crash left a partial upload of another folder: a sync of this one must not take it
            sync(str(src), str(box), data_dir=str(data_dir))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_sync_job_cut_off_by_a_restart_is_listed_as_interrupted_and_resumes(tmp_path, lcg_root):
    root, _ = lcg_root
    workspace, data_dir = tmp_path / "ws", tmp_path / "data"
    src = workspace / "big"
    src.mkdir(parents=True)
    for i in range(6):
        (src / f"f{i}.bin").write_bytes(os.urandom(48 << 20))
    env = {"CYGNET_DATA_DIR": str(data_dir), "CYGNET_VIEWS_PATH": str(root)}
    args = ["--Cygnet.build_default_view=False"]
    with JupyterServer(env=env, root=workspace, args=args) as first:
        job = first.post("/cygnet/api/sync", json={"src": "big"}).json()
        deadline = time.monotonic() + 60
        while first.get(f"/cygnet/api/sync/{job['id']}").json()["progress"]["files_done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(first.proc.pid, 9)
        first.proc.wait()
    with JupyterServer(env=env, root=workspace, args=args) as second:
        cut = second.get(f"/cygnet/api/sync/{job['id']}").json()
        assert cut["state"] == "interrupted" and "resume" in cut["error"], cut
        assert second.post(f"/cygnet/api/sync/{job['id']}/resume", json={}).status_code == 202
        resumed = [j for j in second.get("/cygnet/api/sync").json() if j["resumed_from"] == job["id"]][0]
        deadline = time.monotonic() + 120
        while (state := second.get(f"/cygnet/api/sync/{resumed['id']}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["state"] == "done", state
        assert second.post(f"/cygnet/api/sync/{resumed['id']}/resume", json={}).status_code == 400
    box = data_dir / "box"
    for i in range(6):
        assert (box / f"f{i}.bin").read_bytes() == (src / f"f{i}.bin").read_bytes()
    assert not [p for p in box.rglob("*") if ".cygnet-partial-" in p.name]


# --- re-opening a repository never hides the user's work -------------------------------------------
LOOPBACK = OpenSettings(policy=OpenPolicy(internal=("127.0.0.1",)), timeout=60)


def test_reopen_with_non_ascii_names_and_file_folder_clashes_keeps_the_users_files(tmp_path, git_daemon):
    upstream = Upstream(git_daemon, unique("clash"), {"a.txt": "a\n"})
    assert open_link({"repo": upstream.url, "target": "c"}, tmp_path, LOOPBACK).path == "c"
    work = tmp_path / "c"
    (work / "café.txt").write_text("my café\n")
    (work / "data").write_text("my data file\n")
    upstream.commit({"café.txt": "their café\n", "data/x.csv": "x\n"})
    opened = open_link({"repo": upstream.url, "target": "c"}, tmp_path, LOOPBACK)
    assert opened.path == "c" and opened.backup is None and opened.kept_yours is None
    assert (work / "café.txt").read_text() == "my café\n"
    assert (work / "café-remote.txt").read_text() == "their café\n"
    assert (work / "data").read_text() == "my data file\n"
    assert (work / "data-remote" / "x.csv").read_text() == "x\n"
    assert not [p for p in tmp_path.iterdir() if "backup" in p.name]


def test_a_link_to_another_branch_opens_beside_the_first(tmp_path, git_daemon):
    upstream = Upstream(git_daemon, unique("branches"), {"a.txt": "main\n"})
    upstream.commit({"a.txt": "dev\n"}, branch="dev")
    assert open_link({"repo": upstream.url, "target": "r"}, tmp_path, LOOPBACK).path == "r"
    (tmp_path / "r" / "mine.txt").write_text("mine\n")
    other = open_link({"repo": upstream.url, "target": "r", "branch": "dev"}, tmp_path, LOOPBACK)
    assert other.path == "r-dev" and (tmp_path / "r-dev" / "a.txt").read_text() == "dev\n"
    assert (tmp_path / "r" / "a.txt").read_text() == "main\n" and (tmp_path / "r" / "mine.txt").exists()
    again = open_link({"repo": upstream.url, "target": "r", "branch": "dev"}, tmp_path, LOOPBACK)
    assert again.path == "r-dev"


def test_a_backup_lists_what_is_only_in_it(server, git_daemon):
    upstream = Upstream(git_daemon, unique("rewrite"), {"a.txt": "a\n", "b.txt": "b\n"})
    target = unique("bk")
    server.events("/cygnet/api/open", {"repo": upstream.url, "target": target})
    (server.root / target / "notes.txt").write_text("only mine\n")
    (server.root / target / "a.txt").write_text("my a\n")
    upstream.rewrite_history({"a.txt": "new a\n"})
    got = server.events("/cygnet/api/open", {"repo": upstream.url, "target": target})
    kind, data = got[-1]
    assert kind == "done" and data["backup"]["folder"].startswith(f"{target}-backup-"), got
    assert data["backup"]["only_in_backup"] == ["b.txt", "notes.txt"]
    assert data["backup"]["differ"] == ["a.txt"]
    assert any("only in the backup: b.txt, notes.txt" in d.get("line", "") for _, d in got)


def test_files_changed_on_both_sides_are_named(server, git_daemon):
    upstream = Upstream(git_daemon, unique("both"), {"a.txt": "a\n", "b.txt": "b\n"})
    target = unique("both")
    server.events("/cygnet/api/open", {"repo": upstream.url, "target": target})
    (server.root / target / "a.txt").write_text("my a\n")
    upstream.commit({"a.txt": "their a\n", "b.txt": "their b\n"})
    got = server.events("/cygnet/api/open", {"repo": upstream.url, "target": target})
    kind, data = got[-1]
    assert kind == "done" and data["kept_yours"] == ["a.txt"] and data["backup"] is None, got
    assert (server.root / target / "a.txt").read_text() == "my a\n"
    assert (server.root / target / "b.txt").read_text() == "their b\n"


def test_a_zip_with_a_lying_crc_is_refused(tmp_path):
    import zipfile

    folder = tmp_path / "served"
    folder.mkdir()
    with zipfile.ZipFile(folder / "liar.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("data.txt", "honest content")
    raw = bytearray((folder / "liar.zip").read_bytes())
    at = raw.index(b"honest content")
    raw[at : at + 6] = b"HONEST"  # the stored CRC no longer matches
    (folder / "liar.zip").write_bytes(bytes(raw))
    served = StaticServer(folder)
    try:
        with pytest.raises(BadInput, match="liar.zip is damaged"):
            open_link({"url": f"{served.url}/liar.zip"}, tmp_path / "ws", LOOPBACK)
    finally:
        served.stop()
    assert not list((tmp_path / "ws").iterdir()), "nothing unpacked, no staging left"


def test_a_process_started_in_a_session_of_its_own_runs_nicer_with_its_scheduling_group():
    """Under Linux's autogroups a session (setsid) is a scheduling group of its own, weighed
    against the others whatever its processes' niceness: run_nicer sets the group's too, and
    never the group of a process that shares its starter's session (that would be ours)."""
    import subprocess
    import sys

    from cygnet.core.proc import autogroup_nice, run_nicer

    ours = autogroup_nice(os.getpid())  # None in the boot's default group (CI's containers)
    own_session = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE, start_new_session=True)
    shared_session = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0) + 4
        run_nicer(own_session.pid, nice)
        run_nicer(shared_session.pid, nice)
        assert os.getpriority(os.PRIO_PROCESS, own_session.pid) == nice
        assert os.getpriority(os.PRIO_PROCESS, shared_session.pid) == nice
        assert autogroup_nice(own_session.pid) in (None, nice)  # None: a kernel without autogroups
        assert autogroup_nice(os.getpid()) == ours  # the starter's group is left alone
    finally:
        for proc in (own_session, shared_session):
            proc.communicate(b"\n", timeout=60)


def test_what_a_nicer_process_starts_in_a_session_of_its_own_runs_as_nice_with_its_group():
    """A session runs nicer than its hub; the terminals, batch jobs, Spark servers and builds it
    starts lead sessions of their own, so each would be a nice-0 scheduling group beside the hub:
    pass_niceness_on gives them the starter's niceness, and their group too. Run at nice +6."""
    import subprocess
    import sys

    script = (
        "import os, subprocess, sys, time\n"
        "from cygnet.core.proc import autogroup_nice, pass_niceness_on\n"
        "child = subprocess.Popen([sys.executable, '-c', 'input()'], stdin=subprocess.PIPE, start_new_session=True)\n"
        "pass_niceness_on(child.pid)\n"
        "deadline = time.monotonic() + 60\n"  # a retry from a thread, where Linux's limit on group changes holds
        "while autogroup_nice(child.pid) not in (None, 6) and time.monotonic() < deadline: time.sleep(0.05)\n"
        "print(os.getpriority(os.PRIO_PROCESS, child.pid), autogroup_nice(child.pid))\n"
        "child.communicate(b'\\n')\n"
    )
    done = subprocess.run(
        ["nice", "-n", "6", sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    nice, group = done.stdout.split()
    assert nice == str(os.getpriority(os.PRIO_PROCESS, 0) + 6), done.stderr
    assert group in ("None", nice)  # None: a kernel without autogroups


def test_a_terminal_of_a_server_run_nicer_runs_as_nice_in_its_own_group(tmp_path, lcg_root):
    """A terminal's shell leads a session of its own (its pty's): a server started at nice +5,
    as the hub starts sessions, gives it its niceness and its scheduling group's."""
    from tests.support.jupyter import VENV_BIN

    root, _ = lcg_root
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(root)}
    command = ["nice", "-n", "5", str(VENV_BIN / "cygnet"), "up", "--no-browser", "--Cygnet.build_default_view=False"]
    expected = os.getpriority(os.PRIO_PROCESS, 0) + 5
    with JupyterServer(env=env, root=tmp_path, command=command) as server:
        nice = "$(awk '{print $19}' /proc/$$/stat)"  # the shell's own, from /proc: no ps needed
        group = "$(awk '{print $NF}' /proc/$$/autogroup 2>/dev/null)"
        out = server.terminal(f"echo NICE-{nice}-GROUP-{group}-END", "-END")
    line = next(line for line in out.splitlines() if "NICE-" in line and "$(" not in line)
    assert f"NICE-{expected}-" in line, line
    assert f"GROUP-{expected}-END" in line or "GROUP--END" in line, line  # empty: no autogroups


AS_NOBODY_WITH_AUTOGROUPS = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/proc/self/autogroup"),
    reason="needs root to drop to nobody, and autogroups",
)


@AS_NOBODY_WITH_AUTOGROUPS
def test_a_server_that_is_not_root_still_sets_its_kernels_groups_under_linuxs_limit_on_group_changes():
    """Without CAP_SYS_ADMIN, Linux allows one autogroup change a tenth of a second on the whole
    machine (EAGAIN otherwise): three kernels started at once by a server that is not root all
    get their group's niceness. Run as `nobody`, with the system's Python and Cygnet's core."""
    script = (
        "import asyncio, subprocess, sys\n"
        "from cygnet.core.proc import run_nicer_soon\n"
        "procs = [subprocess.Popen([sys.executable, '-c', 'input()'], stdin=subprocess.PIPE, start_new_session=True)"
        " for _ in range(3)]\n"
        "async def main():\n"
        "    for p in procs:\n"
        "        await run_nicer_soon(p.pid, 7)\n"
        "asyncio.run(main())\n"
        "from cygnet.core.proc import autogroup_nice\n"
        "print(' '.join(str(autogroup_nice(p.pid)) for p in procs))\n"
        "for p in procs:\n"
        "    p.communicate(b'\\n')\n"
    )
    done = _as_nobody(script)
    assert done.stdout.split() == ["7", "7", "7"], done.stderr


@AS_NOBODY_WITH_AUTOGROUPS
def test_a_nicer_process_that_is_not_root_passes_its_niceness_to_what_outlives_a_moment():
    """A session that is not root gives the groups of what it starts (a terminal, a job, a build)
    its niceness after a moment, under Linux's limit on group changes; a helper gone by then (most
    bounded ones) takes no turn of that limit, and raises nothing. Run as `nobody`, at nice +7."""
    script = (
        "import os, subprocess, sys, time\n"
        "from cygnet.core.proc import autogroup_nice, pass_niceness_on\n"
        "os.nice(7)\n"
        "brief = subprocess.Popen([sys.executable, '-c', 'pass'], start_new_session=True)\n"
        "pass_niceness_on(brief.pid); brief.wait()\n"
        "procs = [subprocess.Popen([sys.executable, '-c', 'input()'], stdin=subprocess.PIPE, start_new_session=True)"
        " for _ in range(3)]\n"
        "for p in procs:\n"
        "    pass_niceness_on(p.pid)\n"
        "deadline = time.monotonic() + 60\n"
        "while any(autogroup_nice(p.pid) != 7 for p in procs) and time.monotonic() < deadline: time.sleep(0.05)\n"
        "print(' '.join(str(autogroup_nice(p.pid)) for p in procs))\n"
        "for p in procs:\n"
        "    p.communicate(b'\\n')\n"
    )
    done = _as_nobody(script)
    assert done.stdout.split() == ["7", "7", "7"], done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def _as_nobody(script):
    """`script` run by the system's Python as `nobody`, with Cygnet's core on its path (the test
    is skipped without setpriv)."""
    import shutil
    import subprocess
    from pathlib import Path

    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux)")
    core = Path(__file__).resolve().parent.parent / "core"
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "env",
            f"PYTHONPATH={core}",
            "/usr/bin/python3",
            "-",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
