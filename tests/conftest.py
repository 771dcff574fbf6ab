"""Shared fixtures: real views and a real Cygnet server, started once per test session."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import PLATFORM, cygnet
from tests.support.hub import Hub
from tests.support.jupyter import JupyterServer
from tests.support.kdc import KDC
from tests.support.service import Service
from tests.support.shared_build import built_once
from tests.support.views import GOOD_SCRIPT, LANGS, SCRIPT, language_view, lcg_view, spark_home_view
from tests.support.warm import stop_warm_jobs


@pytest.fixture(scope="session", autouse=True)
def no_share_token_in_any_server_log():
    """At the end of the suite: no server log of any test holds a share token it handed out,
    nor a Kerberos password. Each log is read and searched once, for all of them at a time."""
    yield
    secrets = {token: "a share token" for token in JupyterServer.share_tokens}
    secrets.update({password: "a Kerberos password" for password in KDC.passwords})
    leaked = []
    started, read = time.monotonic(), 0
    if secrets:
        pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
        for path in set(JupyterServer.logs):
            text = path.read_text(errors="replace") if path.exists() else ""
            read += len(text)
            leaked += sorted({f"{path}: {secrets[m.group(0)]}" for m in pattern.finditer(text)})
    TeardownClock.notes.append(
        f"secret scan: {len(set(JupyterServer.logs))} logs, {read / 1e6:.1f} MB, {len(secrets)} secrets, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert not leaked, f"secrets reached server logs: {leaked}"
    if JupyterServer.log_dir:  # kept when a secret leaked, for the one who reads the failure
        shutil.rmtree(JupyterServer.log_dir, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def no_warm_job_outlives_the_suite(tmp_path_factory):
    """Local runs leave a warm job for the next run, which would wait out its idle time."""
    yield
    stop_warm_jobs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def kdc(tmp_path_factory):
    """A real MIT KDC on loopback (realm CYGNET.TEST): alice (renewable tickets), bob (not),
    carol (no pre-authentication), dave (disabled), erin (password expired)."""
    if not KDC.available():
        pytest.skip("needs Debian's krb5-kdc and krb5-user")
    kdc = KDC(tmp_path_factory.mktemp("kdc")).start()
    kdc.add_user("alice", "alice-password")
    kdc.add_user("bob", "bob-password", renewable=False)
    # Refusals a user can meet: no pre-authentication (MIT's default), a disabled account, an
    # expired password.
    kdc.add_user("carol", "carol-password", preauth=False)
    kdc.add_user("dave", "dave-password", flags="+disallow_all_tix")
    kdc.add_user("erin", "erin-password", flags='-pwexpire "2020-01-01"')
    yield kdc
    kdc.stop()


@pytest.fixture(scope="session")
def built_view(tmp_path_factory):
    """A view made by `cygnet views build`, after a build of it was interrupted (the marker
    of an unfinished build left behind): the build must clear that and complete."""

    def build(root):
        interrupted = root / "built" / PLATFORM
        interrupted.mkdir(parents=True)
        (interrupted / ".cygnet-building").write_text("")
        (interrupted / "half-written-file").write_text("")
        listed = cygnet("views", "list", "--json", env={"CYGNET_VIEWS_PATH": str(root)})
        (root / "listed-while-interrupted.json").write_text(listed.stdout)
        result = cygnet("views", "build", f"built/{PLATFORM}", "--root", str(root))
        assert result.returncode == 0, result.stderr

    root = built_once(tmp_path_factory, "built-views", build)
    listed = (root / "listed-while-interrupted.json").read_text()
    return {"root": root, "path": root / "built" / PLATFORM, "listed_while_interrupted": listed}


@pytest.fixture(scope="session")
def kernel_site(built_view):
    return next((built_view["path"] / "lib").glob("python3.*")) / "site-packages"


@pytest.fixture(scope="session")
def lcg_root(tmp_path_factory, kernel_site):
    """A CVMFS-like views root with good and broken views, and some clutter."""
    root = tmp_path_factory.mktemp("lcg-views")
    views = {
        "marker": lcg_view(root, "LCG_marker", PLATFORM, kernel_site=kernel_site),
        "second": lcg_view(root, "LCG_second", PLATFORM, kernel_site=kernel_site),
        "parallel": lcg_view(root, "LCG_parallel", PLATFORM, kernel_site=kernel_site, setup_lines=["sleep 1"]),
        "failing": lcg_view(
            root,
            "LCG_failing",
            PLATFORM,
            kernel_site=kernel_site,
            setup_lines=["echo 'cannot find compiler gcc13 on /cvmfs' >&2", "return 3"],
        ),
        "noipykernel": lcg_view(root, "LCG_noipykernel", PLATFORM),
        "nopython": lcg_view(root, "LCG_nopython", PLATFORM, python=False),
        "nosetup": lcg_view(root, "LCG_nosetup", PLATFORM, setup=False),
    }
    (root / "README.txt").write_text("not a view")
    (root / "LCG_empty" / "some-platform").mkdir(parents=True)
    (root / ".hidden" / PLATFORM / "bin").mkdir(parents=True)
    return root, views


@pytest.fixture(scope="session")
def server(tmp_path_factory, lcg_root, built_view):
    """One real Cygnet server for the session, over the test views."""
    root, _ = lcg_root
    workspace = tmp_path_factory.mktemp("workspace")
    env = {
        "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "CYGNET_VIEWS_PATH": f"{root}:{built_view['root']}",
        "SERVER_ONLY_SENTINEL": "must-not-reach-kernels",
    }
    # The git daemon and the download servers of the tests are on loopback, which links may
    # reach only when the site allows it.
    srv = JupyterServer(
        env=env,
        root=workspace,
        args=[f"--Cygnet.default_view=LCG_marker/{PLATFORM}", "--Cygnet.open_internal_hosts=127.0.0.1"],
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def git_daemon(tmp_path_factory):
    from tests.support.gitserve import GitDaemon

    daemon = GitDaemon(tmp_path_factory.mktemp("git-served")).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def webdav(tmp_path_factory):
    """A real WebDAV server (wsgidav + cheroot) with basic auth, standing in for CERNBox."""
    from tests.support.webdav import start_wsgidav

    root = tmp_path_factory.mktemp("webdav-root")
    proc, port = start_wsgidav(root, "alice", "s3cret")
    yield {
        "url": f"webdav://127.0.0.1:{port}",
        "root": root,
        "port": port,
        "env": {"CYGNET_BOX_USER": "alice", "CYGNET_BOX_PASSWORD": "s3cret"},
    }
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory):
    """A Spark Connect server (local[2]) from the installed pyspark, shared by the Spark and
    browser tests (each uses sessions of its own on it)."""
    import os

    from cygnet.spark.launch import start_connect_server, stop_pids

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    state = start_connect_server(tmp_path_factory.mktemp("connect") / "server.log", master="local[2]")
    yield state
    stop_pids([state["pid"]])


@pytest.fixture(scope="session")
def eos_server(tmp_path_factory):
    """Debian's xrootd on a free loopback port, standing in for EOS (tests that stop it have their own)."""
    from tests.support.xrootd import XRootDServer

    server = XRootDServer(tmp_path_factory.mktemp("eos")).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def spark_view(tmp_path_factory):
    """A view built with `--spark --storage --dask` (Spark, XRootD and Dask for kernels), plus a module only
    this view has."""

    def build(root):
        flags = ["--spark", "--storage", "--dask", "--root", str(root)]
        built = cygnet("views", "build", f"sparktest/{PLATFORM}", *flags, timeout=900)
        assert built.returncode == 0, built.stderr
        site = next((root / "sparktest" / PLATFORM / "lib").glob("python3.*")) / "site-packages"
        (site / "cygnet_view_only.py").write_text("def tag(x):\n    return f'view-{x}'\n")

    return built_once(tmp_path_factory, "spark-views", build)


@pytest.fixture(scope="session")
def hub(tmp_path_factory, lcg_root):
    """One real `cygnet hub` (JupyterHub, proxy, cygnet-shares, culler) over the test views,
    shared by the hub tests; each test uses users of its own."""
    root, _ = lcg_root
    hub = Hub(tmp_path_factory.mktemp("hub") / "data", env={"CYGNET_VIEWS_PATH": str(root)}).start()
    yield hub
    hub.stop()


# --- views that ship kernels besides Python (test_view_kernels, the lab's tests) ---------------
@pytest.fixture(scope="session")
def langs(tmp_path_factory, kernel_site):
    """A server over views that ship R, Octave and bash kernels, one whose Spark is a SPARK_HOME,
    one with a kernel whose executable is missing; with an environment script in the workspace."""
    root = tmp_path_factory.mktemp("language-views")
    views = {
        "langs": language_view(root, "LCG_langs", PLATFORM, kernel_site=kernel_site),
        "plain": lcg_view(root, "LCG_plain", PLATFORM, kernel_site=kernel_site),
        "missing": lcg_view(root, "LCG_missing", PLATFORM, kernel_site=kernel_site),
        "sparkhome": spark_home_view(root, "LCG_sparkhome", PLATFORM, kernel_site=kernel_site),
    }
    spec = views["missing"] / "share/jupyter/kernels/ir"
    spec.mkdir(parents=True)
    argv = ["/cvmfs/sft.cern.ch/lcg/releases/R/4.3.2/bin/R", "--slave", "-e", "IRkernel::main()", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "R", "language": "R"}))
    workspace = tmp_path_factory.mktemp("langs-workspace")
    (workspace / "env").mkdir()
    (workspace / SCRIPT).write_text(GOOD_SCRIPT)
    srv = JupyterServer(
        env={
            "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("langs-data")),
            "CYGNET_VIEWS_PATH": str(root),
            "SERVER_ONLY_SENTINEL": "must-not-reach-kernels",
        },
        root=workspace,
        args=[
            f"--Cygnet.default_view={LANGS}",
            f"--Cygnet.env_script={SCRIPT}",
            "--Cygnet.build_default_view=False",
            f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('langs-lab-workspaces')}",  # no layout from other runs
        ],
    )
    srv.start()
    yield srv, views, workspace
    srv.stop()


# --- tiers: what each test needs, marked from the fixtures it uses ---------------------------------
# `make test-fast` deselects every tier but the fast one (unit and in-process tests, and cheap real
# servers such as XRootD, WebDAV and git daemon); `make test` runs them all. A test that starts a
# costly part itself, not through a fixture, carries its marker by hand.
TIERS = {
    "browser": {"browser", "page", "lab"},
    "hub": {"hub", "accounts"},
    "kdc": {"kdc", "realm", "kerberized_eos", "negotiate_service"},
    "slurm": {"slurm", "runs_setup"},
    "spark": {"spark_view", "connect_server", "spark_server", "standalone"},
    # Freshly built views and servers on them.
    "slow": {"built_view", "kernel_site", "lcg_root", "server", "langs", "dask_server", "gateway"},
}
# Modules whose every test starts a hub or a browser itself.
MODULE_TIERS = {
    "test_hub.py": "hub",
    "test_hub_e2e.py": "browser",
    "test_hub_isolation.py": "hub",
    "test_hub_kerberos.py": "hub",
    "test_lab_e2e.py": "browser",
}


# `make test` runs the suite on two workers (pytest-xdist, `--dist loadfile`: a module's tests on
# one worker, so its fixtures start once). Workers take modules in collection order, so the longest
# go first, and the short ones fill in at the end instead of one long module running alone.
LONGEST_FIRST = (  # from a --durations 0 run on 2 cores; a module not named here comes after these
    "test_hub_isolation.py",
    "test_spark.py",
    "test_lab_e2e.py",
    "test_hub.py",
    "test_hub_e2e.py",
    "test_dask.py",
    "test_session_sharing.py",
    "test_runs.py",
    "test_xrootd.py",
    "test_schedules_server.py",
    "test_view_kernels.py",
    "test_kernel_pool.py",
    "test_openapi_fuzz.py",
    "test_hardening.py",
    "test_hub_kerberos.py",
    "test_kerberos_services.py",
    "test_cli.py",
)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker; one process keeps the modules' own order
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's order stays
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for tier, fixtures in TIERS.items():
            if used & fixtures:
                item.add_marker(tier)
        tier = MODULE_TIERS.get(item.path.name)
        if tier:
            item.add_marker(tier)


# --- the suite leaves the checkout as it found it ----------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


def _checkout_state():
    """`git status` of the checkout (None outside a git work tree)."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True, text=True
    )
    return set(result.stdout.splitlines()) if result.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._checkout_before = _checkout_state()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_checkout_before", None)
    after = _checkout_state()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        print(f"\nthe tests changed the checkout (files written or changed there): {left[:20]}", file=sys.stderr)
        session.exitstatus = 1


# --- slow teardowns are named in the summary -----------------------------------------------------
# --durations shows a slow teardown only as the last test's; this names the fixture it was. It is a
# plugin registered on the config, not hooks of this conftest: pytest calls a session fixture's
# hooks through the session node, which conftest files below the rootdir do not reach.
class TeardownClock:
    notes: list = []  # other session-end costs worth a line

    def __init__(self):
        self.last = 0.0
        self.slow = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        self.last = time.monotonic()
        yield

    def pytest_fixture_post_finalizer(self, fixturedef, request):
        now = time.monotonic()
        took, self.last = now - self.last, now
        if took > 2 and fixturedef.scope in ("session", "package", "module"):
            self.slow.append((took, fixturedef.scope, fixturedef.argname))

    def pytest_terminal_summary(self, terminalreporter):
        if self.slow or self.notes:
            terminalreporter.section("slow fixture teardowns")
            for took, scope, name in sorted(self.slow, reverse=True)[:15]:
                terminalreporter.write_line(f"{took:7.2f}s {scope:<8} {name}")
            for note in self.notes:
                terminalreporter.write_line(note)
        for what, stacks in Service.hung:
            terminalreporter.section(f"did not stop when asked: {what}")
            terminalreporter.write_line(stacks)


def pytest_configure(config):
    config.pluginmanager.register(TeardownClock(), "cygnet-teardown-clock")


# --- a failing browser test leaves a screenshot of what the user would have seen -----------------
FAILED_SHOTS = Path(os.environ.get("CYGNET_TEST_OUTPUT", REPO / "test-output")) / "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when != "call" or not report.failed:
        return
    for name in ("page", "langs_page"):
        page = getattr(item, "funcargs", {}).get(name)
        if page is None:
            continue
        try:
            FAILED_SHOTS.mkdir(parents=True, exist_ok=True)
            path = FAILED_SHOTS / f"{item.name[:120]}-{name}.png"
            page.screenshot(path=str(path))
            report.sections.append(("screenshot", str(path)))
        except Exception:  # noqa: BLE001 - a closed page leaves none; the failure itself is reported
            pass
    # The end of each server's log the test used: the suite removes the logs when it ends.
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, Service) and getattr(value, "log_path", None):
            with contextlib.suppress(Exception):
                report.sections.append((f"log of {name} (its end)", value.log(8000)))
