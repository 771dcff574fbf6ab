"""Isolation between users is real: a hub running as root spawns each session as its own Unix
account (CygnetSystemUserSpawner), and one user's kernel cannot read another's workspace or
data dir. Two accounts are made for the test (CI runs as root; elsewhere the test is skipped).

A terminal runs as the same account as the kernel, so what a kernel cannot read a terminal
cannot either; the kernel is what the test drives. SystemdSpawner, DockerSpawner and KubeSpawner
give the same separation by other means and cannot run here (no systemd, no container runtime
or cluster in CI); their settings are in docs/admin-guide.md and docker/."""

import html
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.views import kernel_name, lcg_view

USERS = ("cyg-alice", "cyg-bob")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root to make Unix accounts"
)


@pytest.fixture(scope="module")
def shared_interpreter():
    """Every account must be able to run the service's Python (as on a site, where it is in /opt
    or /cvmfs). Here it may sit under /root (pyenv): the folders on the way get o+x, the right to
    pass through without listing, for the length of the test, and their modes back afterwards."""
    import sys

    changed = let_every_account_through([Path(os.path.realpath(sys.executable)), Path(__file__).resolve()])
    yield
    restore(changed)


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
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    yield {name: pwd.getpwnam(name) for name in USERS}
    for name in USERS:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


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
