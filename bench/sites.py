"""Real sites, side by side in one run (medians over --runs), on a real single-node Slurm:

  Dask on the batch system, from a fresh process, timed from before its imports to the first
  result on two workers ready:
  (a) plain dask-jobqueue: `SLURMCluster(cores=1, memory=...)` (its scheduler in the process),
      `scale(2)`, `wait_for_workers(2)`, a first result; workers run in the same view;
  (b) Cygnet's gateway with its Slurm backend (`CygnetHub.dask_gateway_backend = "slurm"`):
      `Gateway().new_cluster(view=...)` (the scheduler is a Slurm job too), `scale(2)`, the same.
Goal: (b) within 1.2x of (a).

The issue's other rows (form submit to first result with the Docker and Slurm spawners) are not
measured: those spawners are not built yet. Jobs here run as root, as the benchmark does; the
test suite's tests/test_dask_slurm.py checks they run as the user.

    .venv/bin/python bench/sites.py [--runs 3] [--views DIR]
Builds a view with Dask (about 30 s) unless --views names a root that has one. Needs root, and
Slurm and munge installed (`make test` installs them).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dask_compute import dask_view  # noqa: E402
from tests.support.dask_gateway import Gateway  # noqa: E402
from tests.support.slurm import Slurm, available  # noqa: E402

JOBQUEUE = """
import time; t = time.perf_counter()
from dask_jobqueue import SLURMCluster
from distributed import Client
cluster = SLURMCluster(
    cores=1, processes=1, memory="512MiB", python={python!r}, job_script_prologue=[{prologue!r}],
    scheduler_options={{"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}, local_directory={scratch!r},
    log_directory={scratch!r},
)
cluster.scale(2)
client = Client(cluster)
client.wait_for_workers(2, timeout=300)
assert client.submit(sum, [1, 2, 3]).result() == 6
print(time.perf_counter() - t)
client.close(); cluster.close()
"""

GATEWAY = """
import time; t = time.perf_counter()
from dask_gateway import Gateway, auth
gateway = Gateway({address!r}, proxy_address={proxy!r}, auth=auth.BasicAuth("root", ""))
cluster = gateway.new_cluster(view={view!r}, worker_cores=1, worker_memory=0.5)
cluster.scale(2)
client = cluster.get_client()
client.wait_for_workers(2, timeout=300)
assert client.submit(sum, [1, 2, 3]).result() == 6
print(time.perf_counter() - t)
client.close(); cluster.shutdown(); gateway.close()
"""


def fresh_process(code, env):
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return float(out.stdout.strip().splitlines()[-1])


def wait_until_no_jobs(slurm):
    from tests.support.waiting import wait_for

    def none():
        out = subprocess.run(["squeue", "--noheader"], capture_output=True, text=True, env={**os.environ, **slurm.env})
        return out.returncode == 0 and not out.stdout.strip()

    wait_for(none, "the previous run's Slurm jobs end", 120)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--views", help="a views root with a view built with --dask")
    args = parser.parse_args()
    if not available():
        sys.exit("bench/sites.py needs root, Slurm and munge (make test installs them)")
    views, view, _ = dask_view(args.views)
    scratch = Path(tempfile.mkdtemp(prefix="sites-bench-"))
    slurm = Slurm(scratch / "slurm").start()
    gateway = Gateway(scratch / "gateway", [views], backend="slurm", env=slurm.env)
    name = f"{view.parent.name}/{view.name}"
    plain = JOBQUEUE.format(
        python=str(view / "bin" / "python"), prologue=f"source {view / 'setup.sh'}", scratch=str(scratch)
    )
    ours = GATEWAY.format(address=gateway.address, proxy=f"gateway://127.0.0.1:{gateway.proxy_port}", view=name)
    a, b = [], []
    try:
        for run in range(args.runs):
            a.append(fresh_process(plain, slurm.env))
            wait_until_no_jobs(slurm)
            b.append(fresh_process(ours, slurm.env))
            wait_until_no_jobs(slurm)
            print(f"run {run + 1}: jobqueue {a[-1]:.2f} s, gateway on Slurm {b[-1]:.2f} s", flush=True)
    finally:
        gateway.stop()
        slurm.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    ma, mb = statistics.median(a), statistics.median(b)
    verdict = "met" if mb / ma <= 1.2 else "MISSED"
    print(f"\n| Dask on Slurm, fresh process to a first result on 2 workers | median ({args.runs} runs) |")
    print("| --- | --- |")
    print(f"| (a) dask-jobqueue SLURMCluster (scheduler in the process) | {ma:.2f} s |")
    print(f"| (b) Cygnet's gateway, Slurm backend (scheduler as a job) | {mb:.2f} s |")
    print(f"\n(b)/(a) = {mb / ma:.2f} (goal <= 1.2: {verdict})")


if __name__ == "__main__":
    main()
