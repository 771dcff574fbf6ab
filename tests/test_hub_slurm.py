"""Sessions on Slurm nodes: a real hub (as root) with CygnetSlurmSpawner runs each session as a
Slurm job of the user's own account on a real Slurm (slurmctld, slurmd and munged on 127.0.0.1).
The form's cores and memory become the job's request; a job that must wait says where it is in
the queue; one Slurm refuses fails the spawn with Slurm's reason; the session knows when its
job's time is up. A GPU chosen in the form (of the test Slurm's two stand-in GPUs) is the job's
gres, counted in the form and seen by kernels as CUDA_VISIBLE_DEVICES. An account is made for
the test (CI runs as root; elsewhere it is skipped)."""

import html
import json
import os
import shutil
import subprocess
import time

import psutil
import pytest
import requests

from tests.support.accounts import unix_accounts
from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.slurm import Slurm, available
from tests.support.views import kernel_name
from tests.support.waiting import wait_for
from tests.test_hub_isolation import readable_views, shared_interpreter  # noqa: F401 - fixtures

USER = "cyg-gina"
pytestmark = [
    pytest.mark.hub,
    pytest.mark.slurm,
    pytest.mark.skipif(not available(), reason="Slurm and munge are not installed (make test installs them)"),
    pytest.mark.skipif(not shutil.which("useradd"), reason="needs useradd to make a Unix account"),
]


@pytest.fixture(scope="module")
def account(shared_interpreter):  # noqa: F811
    with unix_accounts(USER) as made:
        yield made[USER]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = Slurm(tmp_path_factory.mktemp("slurm") / "cluster", for_all_accounts=True).start()
    yield cluster
    cluster.stop()


def squeue(slurm, fmt="%i %u %j %C %m %T"):
    out = subprocess.run(
        ["squeue", "--noheader", f"--format={fmt}"], capture_output=True, text=True, env={**os.environ, **slurm.env}
    )
    return [line.split() for line in out.stdout.splitlines()]


def progress_messages(hub, token, user, until, timeout=120):
    """The spawn's progress events (the pending page's), until one contains `until`."""
    seen = []
    with requests.get(
        f"{hub.url}/hub/api/users/{user}/server/progress",
        headers={"Authorization": f"token {token}"},
        stream=True,
        timeout=timeout,
    ) as events:
        for line in events.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                seen.append(json.loads(line[5:]).get("message", ""))
                if until in seen[-1]:
                    return seen
    raise AssertionError(f"no progress message with {until!r}: {seen}")


def test_a_session_runs_as_a_slurm_job_of_its_user_waiting_its_turn(tmp_path, account, readable_views, slurm):  # noqa: F811  # noqa: F811
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.slurm_spawner.CygnetSlurmSpawner"\n'
        "c.CygnetSlurmSpawner.core_choices = [1, 2]\n"
        "c.CygnetSlurmSpawner.memory_choices = ['1G', '64G']\n"
        "c.CygnetSlurmSpawner.req_runtime = '00:30:00'\n"
        "c.CygnetSlurmSpawner.gpu_choices = [{'name': 'gpu', 'label': 'One GPU', 'slurm_gres': 'gpu:1'}]\n"
        "c.CygnetSlurmSpawner.gpus_free_every = 0\n"
        "c.CygnetHub.cull_idle_timeout = 0\n"
        "c.Spawner.args = ['--allow-root', '--Cygnet.session_end_warning=1200']\n"
    )
    env = {"CYGNET_VIEWS_PATH": str(readable_views), **slurm.env}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    # The node's 4 cores are all taken: the session's job waits its turn.
    filler = subprocess.run(
        ["sbatch", "--parsable", "--cpus-per-task=4", "--mem=100M", "--wrap=sleep 600"],
        capture_output=True, text=True, env={**os.environ, **slurm.env}, check=True, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    try:
        wait_for(lambda: [filler, "root", "wrap", "4", "100M", "RUNNING"] in squeue(slurm), "the filler runs", 60)
        web = hub.login(USER)
        page, action = hub.spawn_form(web)
        assert ">One GPU (2 free)</option>" in page.text, "the form says how many GPUs are free"
        choice = {"view": f"LCG_iso/{PLATFORM}", "cores": "2", "memory": "1G", "gpu": "gpu", "cluster": "none"}
        r = web.post(action, data=choice, timeout=120, allow_redirects=False)
        assert r.status_code == 302, r.text[-800:]
        token = hub.token(web, USER)
        seen = progress_messages(hub, token, USER, "position 1 of 1")
        assert "waiting for free cores, memory or GPUs" in seen[-1], seen
        session = [j for j in squeue(slurm) if j[2] == "cygnet-session"]
        assert session and session[0][1:] == [USER, "cygnet-session", "2", "1G", "PENDING"], squeue(slurm)

        subprocess.run(["scancel", filler], env={**os.environ, **slurm.env}, check=True)
        hub.wait_ready(web, USER, timeout=180)
        assert [j[1:] for j in squeue(slurm) if j[2] == "cygnet-session"] == [
            [USER, "cygnet-session", "2", "1G", "RUNNING"]
        ]
        assert [j[0] for j in squeue(slurm, "%b %j") if j[1] == "cygnet-session"] == ["gres:gpu:1"]
        kernel = hub.kernel(USER, token, kernel_name("LCG_iso", PLATFORM))
        try:
            out = kernel.run(
                "import os; e = os.environ\n"
                "print(os.getuid(), e['SLURM_JOB_ID'], e['CYGNET_CORES'], e['CYGNET_GPU'], e['CUDA_VISIBLE_DEVICES'])"
            )
        finally:
            kernel.shutdown()
        assert out.split() == [str(account.pw_uid), session[0][0], "2", "gpu", "0"], out
        limit = hub.api(token).get(f"{hub.url}/user/{USER}/cygnet/api/session/limit", timeout=30).json()
        assert limit["scheduler"] == "slurm" and limit["job"] == session[0][0] and limit["warn_before"] == 1200
        assert 25 * 60 < limit["ends"] - time.time() <= 30 * 60, limit

        # A job Slurm cannot run fails its spawn with Slurm's reason, at once.
        page, big = hub.spawn_form(web, f"{USER}/big")
        assert ">One GPU (1 free)</option>" in page.text, "the session's GPU is taken"
        r = web.post(big, data={**choice, "memory": "64G"}, timeout=120, allow_redirects=False)
        text = html.unescape(r.text) + hub.log()
        assert "Slurm refused the session's job" in text, text[-3000:]
        assert "memory" in text.split("Slurm refused the session's job")[1][:300].lower(), text[-3000:]

        # The session's own token may say where it listens, and nothing else: batchspawner's handler
        # would set any attribute, the command prefix the hub runs as root included.
        session_token, port = server_token_and_port(USER)
        pwned = tmp_path / "pwned"
        hostile = {"port": port, "exec_prefix": f"touch {pwned}; runuser -u {{username}} --"}
        as_session = {"Authorization": f"token {session_token}"}
        r = requests.post(f"{hub.url}/hub/api/batchspawner", json=hostile, headers=as_session, timeout=30)
        assert r.status_code == 201, r.text
        for bad in ({"exec_prefix": "x"}, {"port": 80}):
            r = requests.post(f"{hub.url}/hub/api/batchspawner", json=bad, headers=as_session, timeout=30)
            assert r.status_code == 400, r.text
        r = requests.post(
            f"{hub.url}/hub/api/batchspawner",
            json={"port": port},
            headers=as_session | {"Authorization": f"token {token}"},
            timeout=30,
        )
        assert r.status_code == 403, "a user's own API token is not their session's"

        hub.stop_session(hub.api(token), USER)
        assert not pwned.exists(), "the hub ran a command prefix sent by a session"
        wait_for(lambda: not [j for j in squeue(slurm) if j[2] == "cygnet-session"], "the session's job ends", 60)
    finally:
        subprocess.run(["scancel", "--user=root"], env={**os.environ, **slurm.env}, check=False)
        hub.stop()


def server_token_and_port(user):
    """The hub token and port of `user`'s running session (read as root from its process, as the
    user could read their own)."""
    pid = subprocess.run(["pgrep", "-u", user, "-f", "--", "-singleuser"], capture_output=True, text=True)
    for candidate in pid.stdout.split():
        environ = dict(
            item.split("=", 1) for item in open(f"/proc/{candidate}/environ").read().split("\0") if "=" in item
        )
        if "JUPYTERHUB_API_TOKEN" in environ:  # its port: batchspawner-singleuser picked it in-process
            listening = [c.laddr.port for c in psutil.Process(int(candidate)).net_connections() if c.status == "LISTEN"]
            return environ["JUPYTERHUB_API_TOKEN"], min(listening)
    raise AssertionError(f"no session server of {user}: {pid.stdout} {pid.stderr}")
