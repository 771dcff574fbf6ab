"""Isolation between users is real: a hub running as root spawns each session as its own Unix
account (CygnetSystemUserSpawner), and one user's kernel cannot read another's workspace or
data dir. Two accounts are made for the test (CI runs as root; elsewhere the test is skipped).

A terminal runs as the same account as the kernel, so what a kernel cannot read a terminal
cannot either; the kernel is what the test drives. SystemdSpawner, DockerSpawner and KubeSpawner
give the same separation by other means and cannot run here (no systemd, no container runtime
or cluster in CI); their settings are in docs/admin-guide.md and docker/."""

import html
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.support.accounts import unix_accounts
from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.views import kernel_name, lcg_view
from tests.support.waiting import wait_for

USERS = ("cyg-alice", "cyg-bob")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root to make Unix accounts"
)


@pytest.fixture(scope="module")
def shared_interpreter(tmp_path_factory):
    """Every account must be able to run the service's Python (as on a site, where it is in /opt
    or /cvmfs). Here it may sit under /root (pyenv): the folders on the way get o+x, the right to
    pass through without listing, while any module needs it, and their modes back afterwards.
    Modules on other pytest-xdist workers need it too (test_session_sharing), so the workers of
    one run count who holds it, in a file under the run's temporary folder, and the last one out
    restores the modes: one worker restoring them under another's spawns made those fail."""
    import fcntl
    import json
    import sys

    base = tmp_path_factory.getbasetemp()
    run = base.parent if base.name.startswith("popen-gw") else base  # shared by the run's workers
    state_file, lock_file = run / "accounts-let-through.json", run / "accounts-let-through.lock"
    with open(lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_file.read_text()) if state_file.exists() else {"holders": 0, "changed": []}
        changed = let_every_account_through([Path(os.path.realpath(sys.executable)), Path(__file__).resolve()])
        state["holders"] += 1
        state["changed"] += [[str(folder), mode] for folder, mode in changed]
        state_file.write_text(json.dumps(state))
    yield
    with open(lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_file.read_text())
        state["holders"] -= 1
        if state["holders"] == 0:
            restore([(Path(folder), mode) for folder, mode in state["changed"]])
            state["changed"] = []
        state_file.write_text(json.dumps(state))


def let_every_account_through(targets, listable=()):
    """o+x on the folders above `targets` (o+rx on the `listable` folders themselves); their
    old modes, for `restore`."""
    changed = []
    for folder in [*listable, *(f for target in targets for f in reversed(target.parents))]:
        mode = folder.stat().st_mode
        wanted = mode | (0o005 if folder in listable else 0o001)
        if wanted != mode:
            changed.append((folder, mode))
            os.chmod(folder, wanted)
    return changed


def restore(changed):
    for folder, mode in reversed(changed):
        os.chmod(folder, mode)


@pytest.fixture(scope="module")
def accounts(shared_interpreter):
    with unix_accounts(*USERS) as made:
        yield made


@pytest.fixture(scope="module")
def readable_views(kernel_site):
    """A views root every account can read (pytest's own temporary folders are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="cygnet-shared-views-"))
    site = root / "site-packages"
    shutil.copytree(kernel_site, site, symlinks=True)
    lcg_view(root / "views", "LCG_iso", PLATFORM, kernel_site=site)
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)
    yield root / "views"
    shutil.rmtree(root, ignore_errors=True)


def test_each_session_runs_as_its_user_and_cannot_read_anothers_files(tmp_path, accounts, readable_views):
    site = tmp_path / "site_config.py"
    site.write_text('c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n')
    hub = Hub(tmp_path / "data", env={"CYGNET_VIEWS_PATH": str(readable_views)}, args=[f"--config={site}"]).start()
    try:
        assert "NO isolation" not in hub.log(), "the trial warning is for the embedded spawner only"
        tokens = {}
        for name in USERS:
            web = hub.login(name)
            hub.start_session(web, name, {"view": f"LCG_iso/{PLATFORM}"})
            tokens[name] = hub.token(web, name)
        bob = hub.api(tokens["cyg-bob"])
        secret = {"type": "file", "format": "text", "content": "bob's secret"}
        assert bob.put(f"{hub.url}/user/cyg-bob/api/contents/secret.txt", json=secret, timeout=30).ok

        home = accounts["cyg-bob"].pw_dir
        assert os.stat(home).st_mode & 0o077 == 0, "homes are made private before a session starts"
        kernel = hub.kernel("cyg-alice", tokens["cyg-alice"], kernel_name("LCG_iso", PLATFORM))
        try:
            out = kernel.run(
                "import os\n"
                "print(os.getuid())\n"
                f"for path in [{home + '/secret.txt'!r}, {home!r}, {home + '/.local/share/cygnet'!r}]:\n"
                "    try:\n"
                "        open(path).read() if path.endswith('.txt') else os.listdir(path)\n"
                "        print('READ', path)\n"
                "    except PermissionError:\n"
                "        print('denied')\n"
            )
        finally:
            kernel.shutdown()
        lines = out.split()
        assert lines[0] == str(accounts["cyg-alice"].pw_uid), out
        assert lines[1:] == ["denied"] * 3, out
    finally:
        hub.stop()


def test_a_spawn_for_a_user_with_no_account_fails_with_a_message(tmp_path, accounts, readable_views):
    site = tmp_path / "site_config.py"
    site.write_text('c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n')
    hub = Hub(tmp_path / "data", env={"CYGNET_VIEWS_PATH": str(readable_views)}, args=[f"--config={site}"]).start()
    try:
        web = hub.login("nobody-here")
        r = hub.spawn(web, {"view": f"LCG_iso/{PLATFORM}"})
        text = html.unescape(r.text) if r.status_code != 302 else ""
        if r.status_code == 302:  # the failure shows on the progress page
            text = web.get(f"{hub.url}/hub/api/users/nobody-here", timeout=30).text + hub.log()
        assert "nobody-here has no account on this machine" in text, text[-800:]
    finally:
        hub.stop()


def test_a_users_gateway_dask_cluster_runs_as_their_own_account(tmp_path, accounts, spark_view):
    """With per-user accounts the hub's dask-gateway starts each user's scheduler and workers as
    that user (LocalBackend), in the view, with Cygnet's packages on their path."""
    # The views root is under pytest's private folders: every account may list it and pass through
    # the folders above it, for this test.
    changed = let_every_account_through([spark_view], listable=[spark_view])
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n'
        "c.CygnetHub.dask_gateway = True\nc.CygnetHub.cull_idle_timeout = 0\n"
    )
    env = {"CYGNET_VIEWS_PATH": str(spark_view), "SPARK_LOCAL_IP": "127.0.0.1"}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    try:
        web = hub.login("cyg-alice")
        hub.start_session(web, "cyg-alice", {"view": f"sparktest/{PLATFORM}", "cores": "1", "cluster": "none"})
        token = hub.token(web, "cyg-alice")
        kernel = hub.kernel("cyg-alice", token, kernel_name("sparktest", PLATFORM))
        try:
            out = kernel.run("%dask connect --cluster dask-gateway --workers 1 --option worker_memory=1", timeout=300)
            assert "Dask: connected to dask-gateway (dask-gateway)" in out, out + hub.log()[-3000:]
            kernel.run("client.wait_for_workers(1, timeout=120)", timeout=150)
            code = (
                "import os\n"
                "def who():\n"
                "    import cygnet.storage.xrootd_fs, cygnet_view_only\n"
                "    return os.getuid()\n"
                "print(sorted(set(client.run(who).values())), client.run_on_scheduler(os.getuid))"
            )
            uid = accounts["cyg-alice"].pw_uid
            assert kernel.run(code, timeout=60).strip() == f"[{uid}] {uid}"
            assert os.stat("/").st_uid == 0, "dask-gateway's own LocalBackend gives the user '/'"
            caches = kernel.run(
                "print(os.environ['KRB5CCNAME'], set(client.run(lambda: os.environ.get('KRB5CCNAME')).values()))"
            ).split()
            assert caches[0].startswith("FILE:/home/cyg-alice/"), caches
            assert caches[1] == "{" + repr(caches[0]) + "}", "the workers use the session's Kerberos ticket"
            kernel.run("%dask disconnect", timeout=120)
        finally:
            kernel.shutdown()
    finally:
        hub.stop()
        restore(changed)
        if os.stat("/").st_uid != 0:  # the machine stays usable whatever the test found
            os.chown("/", 0, 0)


def test_a_schedule_fires_as_its_owner_while_their_session_is_stopped(tmp_path, accounts, readable_views):
    """A schedule outlives its owner's session: alice schedules a notebook, her session is stopped
    (as the idle culler or her logout stops it: the hub's DELETE), and the hub's cygnet-runs
    service starts it again before the slot; the slot fires on time, as her own account."""
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n'
        "c.Spawner.args = ['--Cygnet.runs_min_interval=60', '--Cygnet.runs_check_every=1']\n"
        "c.CygnetHub.cull_idle_timeout = 0\nc.CygnetHub.runs_wake_lead = 20\n"
    )
    hub = Hub(tmp_path / "data", env={"CYGNET_VIEWS_PATH": str(readable_views)}, args=[f"--config={site}"]).start()
    user, uid = "cyg-alice", accounts["cyg-alice"].pw_uid
    try:
        web = hub.login(user)
        hub.start_session(web, user, {"view": f"LCG_iso/{PLATFORM}"})
        api = hub.api(hub.token(web, user))
        base = f"{hub.url}/user/{user}"
        kernel = {"name": kernel_name("LCG_iso", PLATFORM), "display_name": "LCG_iso", "language": "python"}
        cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
        nb = {
            "cells": [{**cell, "source": "import os\nprint('uid', os.getuid())"}],
            "metadata": {"kernelspec": kernel},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        assert api.put(f"{base}/api/contents/who.ipynb", json={"type": "notebook", "content": nb}, timeout=30).ok
        slot = int(time.time()) + 45  # the session is stopped and started again well before it
        body = {"notebook": "who.ipynb", "every": "60s", "start": slot}
        r = api.post(f"{base}/cygnet/api/schedules", json=body, timeout=60)
        assert r.status_code == 201, r.text
        schedule_id = r.json()["id"]
        wake = f"{hub.url}/services/cygnet-runs/api/wake"
        wait_for(lambda: api.get(wake, timeout=10).json().get("next") == slot, "the session telling the service", 60)

        hub.stop_session(api, user)
        wait_for(
            lambda: api.get(f"{hub.url}/hub/api/users/{user}", timeout=10).json()["servers"].get("", {}).get("ready"),
            "the service starting the session again",
            timeout=60,
            passing=(requests.RequestException, ValueError),
        )
        runs = wait_for(
            lambda: [
                run
                for run in api.get(f"{base}/cygnet/api/runs", timeout=30).json()
                if run["schedule"] == schedule_id and run["state"] in ("succeeded", "failed")
            ],
            "the scheduled run",
            timeout=240,
            passing=(requests.RequestException, ValueError),
        )
        run = runs[0]
        assert run["state"] == "succeeded", run
        assert run["started"] - slot < 15, f"started {run['started'] - slot:.1f} s after its slot"
        output = api.get(f"{base}/api/contents/{run['output']}", timeout=30).json()["content"]
        printed = "".join(o.get("text", "") for o in output["cells"][0]["outputs"])
        assert printed.strip() == f"uid {uid}", printed
        service = [line for line in hub.log().splitlines() if "cygnet-runs" in line]
        assert any("started the session for its work" in line for line in service), service
    finally:
        hub.stop()


# --- nothing a session starts answers another account ------------------------------------------------
# What alice runs in her own kernel (her uid) against bob's session: every listener of his she
# finds in /proc/net/tcp gets an HTTP request, his Dask scheduler a distributed Client (with no
# credentials, and with TLS credentials of her own), his Connect server a Spark Connect client
# (no token, a guessed one) running a UDF, and his files under /tmp a read.
ATTACK = r"""
import http.client, json, os
BOB, DASK, CONNECT, PAGES = {bob}, {dask!r}, {connect!r}, {pages!r}

def listening(uid):
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).readlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[7]) == uid:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return sorted(ports)

def get(port, path, timeout):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        r = conn.getresponse()
        return [r.status, r.read(200).decode(errors="replace")]
    except Exception as e:
        return [0, type(e).__name__]

def dask_try(address, security):
    from distributed import Client
    try:
        client = Client(address, security=security, timeout=10)
        ran.append(["dask", address, client.run_on_scheduler(os.getuid)])
        client.close()
    except Exception as e:
        refused.append(["dask", address, f"{{type(e).__name__}}: {{e}}"[:300]])

def connect_try():
    from pyspark.sql.connect.client import DefaultChannelBuilder
    from pyspark.sql.connect.session import SparkSession
    for token in (None, "guessed-token"):
        channel = DefaultChannelBuilder(CONNECT)
        if token:
            channel.set("token", token)
        session = None
        try:
            session = SparkSession.builder.channelBuilder(channel).create()
            session.range(1).collect()
            from pyspark.sql.connect.functions import udf
            row = session.range(1).select(udf(lambda x: os.getuid(), "int")("id")).collect()
            ran.append(["connect", token, row[0][0]])
        except Exception as e:
            refused.append(["connect", token, f"{{type(e).__name__}}: {{e}}"[:300]])
        finally:
            if session is not None:
                session.client.close()

# All at once: a listener that speaks no HTTP keeps a request until its timeout, and a plain Dask
# client at a TLS scheduler until its own; one after the other, those waits added up to minutes.
from concurrent.futures import ThreadPoolExecutor
from distributed.security import Security
ports = listening(BOB)
ran, refused = [], []
pages = [tuple(page) for page in PAGES]
probes = [(p, "/") for p in ports] + pages
with ThreadPoolExecutor(len(probes) + 3) as pool:
    # A port that speaks no HTTP keeps a request until its timeout: 5 s. The pages that must be
    # refused are HTTP servers' (a JVM's among them, slow on a busy machine): as long as they take.
    asked = {{f"{{p}}{{path}}": pool.submit(get, p, path, 60 if (p, path) in pages else 5) for p, path in probes}}
    tries = [pool.submit(dask_try, f"tcp://{{DASK}}", None)]
    tries.append(pool.submit(dask_try, f"tls://{{DASK}}", Security.temporary()))
    tries.append(pool.submit(connect_try))
    answers = {{key: f.result() for key, f in asked.items()}}
    for f in tries:
        f.result()
readable = []
for root, dirs, files in os.walk("/tmp"):
    for name in dirs + files:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid != BOB or os.path.islink(path):
            continue
        if name.startswith("hsperfdata_") and os.path.isdir(path):
            continue  # the JVM's: a list of pids (as /proc shows), each file 0600, checked as files
        if os.access(path, os.R_OK):
            readable.append(path)
print(json.dumps({{"ports": ports, "answers": answers, "ran": ran, "refused": refused, "readable": readable}}))
"""


def listeners_of(uid):
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[7]) == uid:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_another_account_reaches_none_of_a_sessions_listeners_or_files(tmp_path, accounts, spark_view):
    """bob runs Spark local, dask-local and a managed Connect server; alice, as her own uid, tries
    every one of his listeners with the right client and his files under /tmp: nothing answers
    her, nothing runs as bob, nothing is readable. bob's own routes still reach all of it, and
    none of his secrets is on a command line."""
    import json

    changed = let_every_account_through([spark_view], listable=[spark_view])
    site_dir = Path(tempfile.mkdtemp(prefix="cygnet-site-"))
    os.chmod(site_dir, 0o755)
    catalogue = site_dir / "clusters.json"
    catalogue.write_text(
        json.dumps({"clusters": [{"name": "local", "kind": "local"}, {"name": "mine", "kind": "connect-managed"}]})
    )
    os.chmod(catalogue, 0o644)
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.spawner.CygnetSystemUserSpawner"\n'
        f"c.Spawner.args = ['--allow-root', '--Cygnet.spark_clusters={catalogue}']\n"
        "c.CygnetHub.cull_idle_timeout = 0\n"
    )
    env = {"CYGNET_VIEWS_PATH": str(spark_view), "SPARK_LOCAL_IP": "127.0.0.1"}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    name = kernel_name("sparktest", PLATFORM)
    options = {"view": f"sparktest/{PLATFORM}", "cores": "1", "memory": "2G", "cluster": "local"}
    bob_uid = accounts["cyg-bob"].pw_uid
    try:
        web, tokens = {}, {}
        for user in USERS:
            web[user] = hub.login(user)
            hub.start_session(web[user], user, options)
            tokens[user] = hub.token(web[user], user)
        bob = hub.kernel("cyg-bob", tokens["cyg-bob"], name)
        bob_connect = hub.kernel("cyg-bob", tokens["cyg-bob"], name)
        try:
            assert "connected to local" in bob.run("%spark connect --cluster local", timeout=300)
            assert "connected to dask-local" in bob.run("%dask connect --workers 1", timeout=300)
            assert "connected to mine" in bob_connect.run("%spark connect --cluster mine", timeout=300)
            ports = json.loads(
                bob.run(
                    "import json\n"
                    "print(json.dumps({'ui': spark.conf.get('spark.ui.port'), 'dask': client.scheduler.address,"
                    " 'dashboard': client.dashboard_link.rstrip('/').rsplit('/', 2)[-2],"
                    " 'count': spark.range(10).count(), 'dask_sum': client.submit(sum, [1, 2]).result()}))"
                )
            )
            assert (ports["count"], ports["dask_sum"]) == (10, 3), "bob's own Spark and Dask work"
            remote = bob_connect.run("import os; print(os.environ['SPARK_REMOTE'], spark.range(5).count())").split()
            assert remote[1] == "5", remote
            servers = hub.api(tokens["cyg-bob"]).get(f"{hub.url}/user/cyg-bob/cygnet/api/spark/servers", timeout=30)
            connect_ui = next(s["ui_port"] for s in servers.json() if s["cluster"] == "mine")

            # bob's routes reach each of his servers, signed with his session's key
            own = hub.api(tokens["cyg-bob"])
            for path in (
                f"/cygnet/spark-ui/{ports['ui']}/jobs/",
                f"/cygnet/spark-ui/{connect_ui}/jobs/",
                f"/cygnet/dask-dashboard/{ports['dashboard']}/status",
            ):
                r = own.get(f"{hub.url}/user/cyg-bob{path}", timeout=60)
                assert r.status_code == 200, (path, r.status_code)
            # alice's own server will not proxy to bob's ports
            theirs = hub.api(tokens["cyg-alice"]).get(
                f"{hub.url}/user/cyg-alice/cygnet/spark-ui/{ports['ui']}/", timeout=60
            )
            assert theirs.status_code == 404

            pages = [(int(ports["ui"]), "/environment/"), (int(ports["ui"]), "/api/v1/applications")]
            pages += [(connect_ui, "/environment/"), (int(ports["dashboard"]), "/info/main/workers.html")]
            attack = ATTACK.format(bob=bob_uid, dask=ports["dask"].split("://")[1], connect=remote[0], pages=pages)
            alice = hub.kernel("cyg-alice", tokens["cyg-alice"], name)
            try:
                found = json.loads(alice.run(attack, timeout=600).strip().splitlines()[-1])
            finally:
                alice.shutdown()
            assert found["ran"] == [], f"code ran as bob: {found['ran']}"
            # ... refused for want of credentials, not for a mistake in the attack
            reasons = {(kind, str(how)): why for kind, how, why in found["refused"]}
            assert len(reasons) == 4, found["refused"]
            for (kind, _), why in reasons.items():
                words = (
                    ("UNAUTHENTICATED", "authentication token")
                    if kind == "connect"
                    else ("Connection reset", "Timed out", "TLS", "SSL", "certificate")
                )
                assert any(w in why for w in words), (kind, why)
            print("alice's attempts were refused:", *found["refused"], sep="\n  ")
            assert len(found["ports"]) >= 8, found["ports"]  # server, kernels, Spark, Dask, Connect
            answered = {k: v for k, v in found["answers"].items() if 200 <= v[0] < 300}
            assert not answered, f"bob's listeners answered alice: {answered}"
            for port, path in pages:
                assert found["answers"][f"{port}{path}"][0] == 403, (port, path, found["answers"][f"{port}{path}"])
            assert found["readable"] == [], f"bob's files alice can read: {found['readable']}"

            # none of bob's secrets is on a command line any account can read
            data = Path(accounts["cyg-bob"].pw_dir) / ".local" / "share" / "cygnet"
            secrets = [(data / "session.key").read_text()]
            secrets += [p.read_text() for p in (data / "spark" / "servers").glob("*.token")]
            assert len(secrets) == 2
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                    except OSError:
                        continue
                    assert not any(s in line for s in secrets), f"a secret of bob's on the command line of {pid}"
        finally:
            bob.shutdown()
            bob_connect.shutdown()
        # bob's session stops: nothing of his listens any more, his scratch is gone
        hub.stop_session(web["cyg-bob"], "cyg-bob")
        deadline = time.monotonic() + 120
        while listeners_of(bob_uid):
            assert time.monotonic() < deadline, f"bob's ports still listen: {sorted(listeners_of(bob_uid))}"
            time.sleep(1)
        scratch = Path(accounts["cyg-bob"].pw_dir) / ".local" / "share" / "cygnet" / "scratch"
        assert not [p for p in scratch.iterdir() if p.name.isdigit()], "the session's scratch is removed"
    finally:
        hub.stop()
        restore(changed)
        shutil.rmtree(site_dir, ignore_errors=True)
