"""Dask on the batch system: the hub's dask-gateway with its Slurm backend
(`CygnetHub.dask_gateway_backend = "slurm"`) runs each cluster's scheduler and workers as Slurm
jobs of the user's own account, in the view the user picks, on a real Slurm (slurmctld, slurmd
and munged on 127.0.0.1). The gateway runs as root, as under the hub; the test drives it with
dask-gateway's client, as a kernel does. An account is made for the test (CI runs as root;
elsewhere the test is skipped)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.accounts import unix_accounts
from tests.support.cli import PLATFORM
from tests.support.slurm import Slurm, available
from tests.support.waiting import wait_for
from tests.test_hub_isolation import let_every_account_through, restore, shared_interpreter  # noqa: F401

USER = "cyg-erin"
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(not available(), reason="Slurm and munge are not installed (make test installs them)"),
    pytest.mark.skipif(not shutil.which("useradd"), reason="needs useradd to make a Unix account"),
]


@pytest.fixture(scope="module")
def account(shared_interpreter):  # noqa: F811
    with unix_accounts(USER) as made:
        os.chmod(made[USER].pw_dir, 0o700)
        yield made[USER]


@pytest.fixture(scope="module")
def slurm_gateway(tmp_path_factory, account, spark_view):
    from tests.support.dask_gateway import Gateway

    # The view is under pytest's private folders: the account may list it and pass through.
    changed = let_every_account_through([spark_view], listable=[spark_view])
    cluster = Slurm(tmp_path_factory.mktemp("slurm") / "cluster", for_all_accounts=True).start()
    gateway = Gateway(tmp_path_factory.mktemp("gateway"), [spark_view], backend="slurm", env=cluster.env, database=True)
    yield gateway, cluster
    gateway.stop()
    cluster.stop()
    restore(changed)


def jobs(cluster):
    """The Slurm jobs (id, user, state) the cluster knows of."""
    out = subprocess.run(
        ["squeue", "--noheader", "--format=%i %u %t %j"],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env},
        check=True,
    ).stdout
    return [line.split() for line in out.splitlines()]


# The client side runs in a process of its own, as in a kernel: dask-gateway's client objects close
# themselves again when collected, on a loop that has stopped, which must not happen in pytest's.
CLIENT = """
import json, os, subprocess, sys
from dask_gateway import BasicAuth, Gateway
gateway = Gateway({address!r}, proxy_address={proxy!r}, auth=BasicAuth({user!r}))
cluster = gateway.new_cluster(view={view!r}, worker_cores=1, worker_memory=0.5)
try:
    cluster.scale(2)
    client = cluster.get_client(set_as_default=False)
    client.wait_for_workers(2, timeout=180)
    jobs = subprocess.run(["squeue", "--noheader", "--format=%u"], capture_output=True, text=True).stdout.split()

    def where():
        import os
        import sys

        import cygnet_view_only  # only the view has it

        return os.getuid(), os.environ["TMPDIR"], sys.executable, os.stat(os.environ["TMPDIR"]).st_mode & 0o777

    print(json.dumps({{
        "jobs": jobs,
        "sum": client.submit(sum, range(100)).result(timeout=60),
        "workers": sorted(set(client.run(where).values())),
        "scheduler_uid": client.run_on_scheduler(os.getuid),
    }}))
    client.close()
finally:
    cluster.shutdown()
    gateway.close()
"""


def test_a_gateway_cluster_runs_as_slurm_jobs_of_its_user(slurm_gateway, account, tmp_path):
    gateway, cluster = slurm_gateway
    code = CLIENT.format(
        address=gateway.address,
        proxy=f"gateway://127.0.0.1:{gateway.proxy_port}",
        user=USER,
        view=f"sparktest/{PLATFORM}",
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=280, env={**os.environ, **cluster.env}
    )
    assert run.returncode == 0, f"{run.stderr[-3000:]}\n{gateway.log_tail()}"
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["jobs"] == [USER] * 3, "the scheduler and two workers are Slurm jobs of the user"
    assert seen["sum"] == sum(range(100))
    assert len(seen["workers"]) == 1, seen
    uid, tmpdir, python, mode = seen["workers"][0]
    assert mode == 0o700, "the cluster's files are private to its user"
    assert uid == account.pw_uid and seen["scheduler_uid"] == account.pw_uid
    assert tmpdir.startswith(os.path.join(account.pw_dir, ".dask-gateway")), tmpdir
    assert "sparktest" in python, python
    wait_for(lambda: jobs(cluster) == [], "the cluster's Slurm jobs end when it stops", 60)
    assert not os.path.exists(tmpdir), "the staging folder (0700, the user's) goes with the cluster"

    # The hub's usage ledger copies the scheduler and the workers from the gateway's own records.
    from cygnet.hub.usage import UsageLedger

    def ended_rows():  # each opening of the ledger copies the gateway's records again
        ledger = UsageLedger(tmp_path / "usage.sqlite", gateway_db=gateway.database)
        try:
            rows = ledger.rows(user=USER)
        finally:
            ledger.close()
        return rows if rows and all(row["ended"] for row in rows) else None

    rows = wait_for(ended_rows, "the cluster's scheduler and workers in the ledger, ended", 60)
    kinds = sorted((row["kind"], row["cores"]) for row in rows)
    assert kinds == [("dask-scheduler", 1.0), ("dask-worker", 1.0), ("dask-worker", 1.0)], rows
    assert all(row["user"] == USER and row["core_hours"] > 0 for row in rows), rows
