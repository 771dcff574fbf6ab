"""Dask on the batch system: the hub's dask-gateway with its Slurm backend
(`CygnetHub.dask_gateway_backend = "slurm"`) runs each cluster's scheduler and workers as Slurm
jobs of the user's own account, in the view the user picks, on a real Slurm (slurmctld, slurmd
and munged on 127.0.0.1). The gateway runs as root, as under the hub; the test drives it with
dask-gateway's client, as a kernel does. An account is made for the test (CI runs as root;
elsewhere the test is skipped)."""

import contextlib
import gc
import os
import pwd
import shutil
import subprocess

import pytest

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
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    os.chmod(pwd.getpwnam(USER).pw_dir, 0o700)
    yield pwd.getpwnam(USER)
    subprocess.run(["pkill", "-KILL", "-u", USER], check=False)
    subprocess.run(["userdel", "--remove", USER], check=False, capture_output=True)


@pytest.fixture(scope="module")
def slurm_gateway(tmp_path_factory, account, spark_view):
    from tests.support.dask_gateway import Gateway

    # The view is under pytest's private folders: the account may list it and pass through.
    changed = let_every_account_through([spark_view], listable=[spark_view])
    cluster = Slurm(tmp_path_factory.mktemp("slurm") / "cluster", for_all_accounts=True).start()
    gateway = Gateway(tmp_path_factory.mktemp("gateway"), [spark_view], backend="slurm", env=cluster.env)
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


def test_a_gateway_cluster_runs_as_slurm_jobs_of_its_user(slurm_gateway, account):
    from dask_gateway import BasicAuth
    from dask_gateway import Gateway as GatewayClient

    gateway, cluster = slurm_gateway
    client = GatewayClient(
        gateway.address, proxy_address=f"gateway://127.0.0.1:{gateway.proxy_port}", auth=BasicAuth(USER)
    )
    try:
        dask_cluster = client.new_cluster(view=f"sparktest/{PLATFORM}", worker_cores=1, worker_memory=0.5)
    except Exception as e:
        raise AssertionError(f"the cluster did not start: {gateway.log_tail()}") from e
    try:
        dask_cluster.scale(2)
        dask = dask_cluster.get_client(set_as_default=False)
        try:
            dask.wait_for_workers(2, timeout=180)
        except Exception as e:
            raise AssertionError(f"no two workers: {jobs(cluster)} {gateway.log_tail()}") from e
        running = jobs(cluster)
        assert len(running) == 3 and {user for _, user, _, _ in running} == {USER}, running
        assert sum(range(100)) == dask.submit(sum, range(100)).result(timeout=60)

        def where():
            import os
            import sys

            import cygnet_view_only  # noqa: F401 - only the view has it

            return os.getuid(), os.environ["TMPDIR"], sys.executable

        seen = set(dask.run(where).values())
        assert len(seen) == 1, seen
        uid, tmpdir, python = seen.pop()
        assert uid == account.pw_uid and dask.run_on_scheduler(os.getuid) == account.pw_uid
        assert tmpdir.startswith(os.path.join(account.pw_dir, ".dask-gateway")), tmpdir
        assert os.stat(tmpdir).st_mode & 0o077 == 0, "the cluster's files are private to its user"
        assert "sparktest" in python, python
        dask.close()
    finally:
        dask_cluster.shutdown()
        client.close()
        # dask-gateway's clients close again when collected, on a loop that has stopped: collected
        # here, not at some later moment (inside the interpreter's compiler, at the session's end).
        del dask_cluster, client
        with contextlib.suppress(Exception):
            gc.collect()
    wait_for(lambda: jobs(cluster) == [], "the cluster's Slurm jobs end when it stops", 60)
    assert not os.path.exists(tmpdir), "the staging folder goes with the cluster"
