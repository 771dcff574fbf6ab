"""The usage ledger (cygnet.hub.usage): sessions' core-hours and GPU-hours per user and group,
clipped to the period asked; soft quotas that warn in the form; `cygnet usage` as a table, CSV and
JSON; the admin page's report. The hub writing it as sessions start and stop is tested in
tests/test_hub.py."""

import json
import time
from types import SimpleNamespace

import pytest

from cygnet.hub.usage import UsageLedger, month_start, quota_notes
from tests.support.cli import cygnet

HOUR = 3600.0


@pytest.fixture
def ledger(tmp_path):
    book = UsageLedger(tmp_path / "usage.sqlite")
    yield book
    book.close()


def test_totals_count_core_and_gpu_hours_within_the_period_and_a_running_session_up_to_now(ledger, tmp_path):
    t0 = 1_700_000_000.0
    a = ledger.opened("ann", ["physics", "atlas"], cores=2, gpus=1, at=t0)
    ledger.ended(a, at=t0 + HOUR)
    ledger.ended(a, at=t0 + 5 * HOUR)  # a second stop changes nothing
    b = ledger.opened("bob", ["physics"], cores=4, at=t0 + HOUR / 2, server="gpu")
    ledger.ended(b, at=t0 + HOUR)
    running = ledger.opened("cat", ["bio"], cores=1, at=time.time() - HOUR)

    by_group = {t["name"]: main(t) for t in ledger.totals("group", since=t0, until=t0 + 2 * HOUR)}
    assert by_group["physics"] == {"name": "physics", "core_hours": 4.0, "gpu_hours": 1.0, "sessions": 2}
    assert by_group["atlas"]["core_hours"] == 2.0, "a user in two groups counts in both"
    assert "bio" not in by_group
    clipped = [main(t) for t in ledger.totals("user", since=t0 + HOUR / 2, until=t0 + 2 * HOUR)]
    assert clipped == [
        {"name": "bob", "core_hours": 2.0, "gpu_hours": 0.0, "sessions": 1},
        {"name": "ann", "core_hours": 1.0, "gpu_hours": 0.5, "sessions": 1},
    ]
    now = ledger.totals("user", since=time.time() - 2 * HOUR, user="cat")[0]
    assert 0.99 < now["core_hours"] < 1.01, "a running session counts up to now"
    assert [r["id"] for r in ledger.rows(since=0, group="bio")] == [running]
    assert oct((tmp_path / "usage.sqlite").stat().st_mode & 0o777) == "0o600"


def main(total):
    return {k: total[k] for k in ("name", "core_hours", "gpu_hours", "sessions")}


def gateway_database(path, clusters):
    """A dask-gateway database made with the gateway's own schema: `clusters` is
    [(name, user, worker_cores, started, stopped, [(worker, started, stopped)])], times in s."""
    import sqlalchemy as sa
    from dask_gateway_server.backends.db_base import JobStatus, metadata

    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    tables = metadata.tables
    with engine.begin() as db:
        db.execute(tables["workers"].delete())
        db.execute(tables["clusters"].delete())
        for number, (name, user, cores, started, stopped, workers) in enumerate(clusters):
            ms = {"start_time": int(started * 1000), "stop_time": int(stopped * 1000) if stopped else None}
            status = JobStatus.STOPPED if stopped else JobStatus.RUNNING
            cluster_id = db.execute(
                tables["clusters"].insert().values(
                    name=name, username=user, status=status, target=status, count=len(workers), options={},
                    config={"worker_cores": cores, "scheduler_cores": 1}, state={}, token=bytes([number]) * 8,
                    scheduler_address="", dashboard_address="", api_address="", tls_credentials=b"", **ms,
                )
            ).inserted_primary_key[0]  # fmt: skip
            for worker, w_started, w_stopped in workers:
                db.execute(
                    tables["workers"].insert().values(
                        name=worker, cluster_id=cluster_id, status=status, target=status, state={},
                        start_time=int(w_started * 1000), stop_time=int(w_stopped * 1000) if w_stopped else None,
                        close_expected=0,
                    )
                )  # fmt: skip
    engine.dispose()


def test_gateway_clusters_are_copied_from_the_gateways_own_records(tmp_path):
    """Each opening of the ledger brings gateway clusters' schedulers and workers up to date (a
    second copy changes nothing; a worker that stopped since is closed); the user's groups are
    those of their latest session; a cluster the gateway forgot (its records gone) ends."""
    t0 = 1_700_000_000.0
    ledger_path, gateway = tmp_path / "usage.sqlite", tmp_path / "dask-gateway" / "gateway.sqlite"
    gateway.parent.mkdir()
    book = UsageLedger(ledger_path)
    book.ended(book.opened("ann", ["physics"], cores=1, at=t0), at=t0 + HOUR)
    book.close()
    gateway_database(gateway, [("c1", "ann", 2, t0, None, [("w1", t0, t0 + HOUR), ("w2", t0, None)])])

    def opened():  # the ledger finds the gateway's database beside it, where `cygnet hub` keeps it
        return UsageLedger(ledger_path)

    book = opened()
    rows = {r["kind"] + ":" + r["detail"]: r for r in book.rows(user="ann", until=t0 + 2 * HOUR)}
    totals = book.totals("group", since=t0, until=t0 + 2 * HOUR)
    book.close()
    assert sorted(rows) == [
        "dask-scheduler:dask-gateway cluster c1",
        "dask-worker:dask-gateway cluster c1",
        "session:",
    ], rows
    assert totals[0]["name"] == "physics" and totals[0]["sessions"] == 1
    # scheduler 1 core x 2 h, w1 2 cores x 1 h, w2 2 cores x 2 h: 8 core-hours of Dask
    assert totals[0]["dask_core_hours"] == 8.0 and totals[0]["core_hours"] == 9.0, totals

    book = opened()
    book.rows()
    assert book.db.execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 4, "a second copy adds nothing"
    book.close()

    gateway_database(gateway, [("c1", "ann", 2, t0, t0 + HOUR, [("w1", t0, t0 + HOUR), ("w2", t0, t0 + HOUR)])])
    book = opened()
    assert all(r["ended"] == t0 + HOUR for r in book.rows(user="ann") if r["kind"] != "session")
    book.close()

    gateway_database(gateway, [("c2", "ann", 1, time.time(), None, [])])
    book = opened()
    book.rows()
    book.close()
    gateway_database(gateway, [])  # the gateway lost its records (a database in memory, restarted)
    book = opened()
    c2 = [r for r in book.rows(user="ann") if r["detail"] == "dask-gateway cluster c2"]
    book.close()
    assert c2 and c2[0]["ended"] is not None, "a cluster the gateway forgot is not counted forever"


def test_soft_quotas_warn_from_their_threshold_and_never_refuse(ledger):
    now = time.time()
    since = month_start(now)
    entry = ledger.opened("ann", ["physics"], cores=90, at=since)
    ledger.ended(entry, at=since + HOUR)
    quotas = {"physics": 100.0, "bio": 100.0}
    assert quota_notes(ledger, {"physics", "bio"}, quotas, 0.8, now) == [
        "Your group physics has used 90 of its 100 core-hours this month (90%)."
    ]
    assert quota_notes(ledger, {"physics"}, quotas, 0.95, now) == []
    over = ledger.opened("ann", ["physics"], cores=20, at=since)
    ledger.ended(over, at=since + HOUR)
    assert "has used up 110 of its 100" in quota_notes(ledger, {"physics"}, quotas, 0.8, now)[0]


def test_the_form_tells_a_member_of_a_group_near_its_quota(tmp_path):
    from cygnet.hub.spawner import CygnetLocalSpawner

    path = tmp_path / "usage.sqlite"
    book = UsageLedger(path)
    entry = book.opened("ann", ["physics"], cores=95, at=month_start())
    book.ended(entry, at=month_start() + HOUR)
    book.close()
    user = SimpleNamespace(
        name="ann", id=3, url="/user/ann/", escaped_name="ann", groups=[SimpleNamespace(name="physics")]
    )
    spawner = CygnetLocalSpawner(
        user=user, view_choices=["LCG_1/x"], usage_ledger=str(path), usage_quotas={"physics": 100}
    )
    form = spawner.options_form(spawner)
    assert 'class="alert alert-warning"' in form and "Your group physics has used 95 of its 100" in form
    spawner.usage_quotas = {}
    assert "alert" not in spawner.options_form(spawner)


def test_the_spawner_keeps_one_ledger_connection_and_opens_a_replaced_ledger_again(tmp_path):
    """Opening the ledger for every spawn cost a schema check and a checkpoint with an fsync on
    the hub's loop: the hub keeps one connection, and opens a ledger file removed since anew."""
    from cygnet.hub.spawner import CygnetLocalSpawner

    path = tmp_path / "usage.sqlite"
    user = SimpleNamespace(name="ann", id=3, url="/user/ann/", escaped_name="ann", groups=[])
    spawner = CygnetLocalSpawner(user=user, view_choices=["LCG_1/x"], usage_ledger=str(path))
    first = spawner._ledger()
    assert spawner._ledger() is first
    entry = first.opened("ann", [], cores=1)
    path.unlink()
    (tmp_path / "usage.sqlite-wal").unlink(missing_ok=True)
    (tmp_path / "usage.sqlite-shm").unlink(missing_ok=True)
    again = spawner._ledger()
    assert again is not first and path.exists()
    again.opened("ann", [], cores=2)
    assert [row["cores"] for row in again.rows()] == [2], f"a fresh ledger ({entry} was in the removed one)"


def test_cygnet_usage_reports_totals_and_sessions_as_a_table_csv_and_json(ledger, tmp_path):
    t0 = 1_700_000_000.0
    entry = ledger.opened("ann", ["physics"], cores=2, at=t0)
    ledger.ended(entry, at=t0 + HOUR)
    path = str(tmp_path / "usage.sqlite")
    days = ["--since", "2023-11-01", "--until", "2023-12-01"]
    out = cygnet("usage", "--ledger", path, *days, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert [main(t) for t in json.loads(out.stdout)["rows"]] == [
        {"name": "physics", "core_hours": 2.0, "gpu_hours": 0.0, "sessions": 1}
    ]
    csv = cygnet("usage", "--ledger", path, *days, "--by", "user", "--format", "csv").stdout
    assert csv.splitlines() == [
        "name,core_hours,gpu_hours,sessions,session_core_hours,dask_core_hours,spark_core_hours,run_core_hours",
        "ann,2.0,0.0,1,2.0,0.0,0.0,0.0",
    ]
    table = cygnet("usage", "--ledger", path, *days, "--sessions").stdout
    assert "physics" in table and "2.00" in table
    bad = cygnet("usage", "--ledger", path, "--since", "last week")
    assert bad.returncode != 0 and "--since is a day, YYYY-MM-DD, not 'last week'" in bad.stderr
    missing = cygnet("usage", "--ledger", str(tmp_path / "none.sqlite"))
    assert missing.returncode != 0 and "no usage ledger at" in missing.stderr


def test_the_admin_pages_report_escapes_names(ledger):
    from cygnet.hub.usage_page import render_html, report

    entry = ledger.opened("x", ["<script>alert(1)</script>"], cores=1, at=1_700_000_000.0)
    ledger.ended(entry, at=1_700_003_600.0)
    page = render_html(report(ledger, 0, 1_800_000_000.0))
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<td>1.00</td><td>0.00</td>" in page


def test_a_session_reports_runs_on_schedulers_and_its_kernels_cluster_cores(tmp_path):
    """What the session's reporter sends (cygnet.server.usage_report): runs on a scheduler, one core
    each, not runs `--on local`; uses recorded by kernels, those of a kernel gone ended at the last
    time the server saw it; what the hub has is not sent again."""
    from types import SimpleNamespace

    from cygnet.runs.store import Run, RunStore
    from cygnet.server.usage_report import Reporter

    store = RunStore(tmp_path / "runs.sqlite")
    now = time.time()
    for run_id, backend in (("r1", "slurm"), ("r2", "local"), ("r3", "htcondor")):
        store.add(
            Run(
                id=run_id, owner="ann", notebook="a.ipynb", parameters={}, view="v", kernel="k", backend=backend,
                output="o.ipynb", html="o.html", run_dir=str(tmp_path), started=now - 60,
                ended=now if run_id == "r1" else None,
            )
        )  # fmt: skip
    config = SimpleNamespace(data_dir=str(tmp_path / "data"))
    records = tmp_path / "data" / "compute" / "usage"  # where the server tells kernels to record
    records.mkdir(parents=True)
    gone = {"id": "dead", "engine": "spark", "cluster": "prod", "kind": "yarn", "cores": 4.0, "counted": True,
            "started": now - 100, "ended": None, "pid": 2**22 + 7, "pid_start": "1", "seen": now - 40}  # fmt: skip
    local = {**gone, "id": "local", "kind": "local", "counted": False}  # the session's own cores
    (records / "local.json").write_text(json.dumps(local))
    (records / "dead.json").write_text(json.dumps(gone))
    app = SimpleNamespace(cygnet=config, runs=SimpleNamespace(store=store, owner="ann"))
    reporter = Reporter()
    sent = []
    import cygnet.server.usage_report as module

    real_post, module.post = module.post, sent.extend
    try:
        assert reporter.report_now(app) == 3
        assert reporter.report_now(app) == 0, "nothing changed: nothing sent"
    finally:
        module.post = real_post
    by_ref = {e["ref"]: e for e in sent}
    assert set(by_ref) == {"run/r1", "run/r3", "spark/dead"}, by_ref
    assert by_ref["run/r1"]["cores"] == 1.0 and by_ref["run/r1"]["ended"] == now and by_ref["run/r3"]["ended"] is None
    assert by_ref["spark/dead"]["ended"] == now - 40 and by_ref["spark/dead"]["detail"] == "Spark on prod"
    assert not (records / "dead.json").exists(), "an ended use the hub has is done with"
    assert not (records / "local.json").exists(), "a local session's record goes once its kernel is gone"
