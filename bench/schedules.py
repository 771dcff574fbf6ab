"""Schedules, side by side in one run:
  (a) firing delay on a real Slurm (slurmctld + slurmd on 127.0.0.1) through a real server: a
      schedule every 6 s, 20 firings; for each, slot -> submitted (the run's record made and
      sbatch answered) and slot -> started (the job's executor running, by its own clock), p50
      and p99. Beside it, the baseline: POST /cygnet/api/runs -> started, 20 times, which is what
      any run costs whoever submits it; the scheduler's own share is the difference.
  (b) 200 schedules of 20 users, all due in the same minute, fired by ticks over one shared
      record (as a hub service would fire them), through each owner's real Runs (checks, records,
      output names) to a backend that records each job instead of starting it (no machine here
      starts 200 kernels at once): all submitted within 60 s, none lost, none twice.
  (c) memory: the resident size of a process holding 1,000 schedules and ticking over them,
      beside the same process before it made any.
  (d) schedules that outlive sessions, through a real hub (`cygnet hub`, its cygnet-runs
      service): a schedule every 20 s; before each slot the session is stopped (as the culler
      stops it) and the service starts it again; slot -> started, beside the same schedule's
      firings while the session runs.
Goals: (a) slot -> started p99 under 2 s; (b) all 200 within 60 s, 0 lost, 0 twice; (c) < 100 MiB;
(d) a stopped session's slot starts within 2 s of it, as a running one's does.
jupyter-scheduler is not measured beside it: it needs JupyterLab's server of its own version and
fires only while that server runs (its #563), which is the case Cygnet's schedules outlive.

    .venv/bin/python bench/schedules.py [--firings 20] [--users 20] [--per-user 10] [--wakes 5]
"""

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402

from tests.support.jupyter import JupyterServer  # noqa: E402
from tests.support.slurm import Slurm  # noqa: E402
from tests.support.views import built_kernel_site, lcg_view  # noqa: E402

PLATFORM = "x86_64-bench"


def make_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(sum(range(1000)))")]
    nbformat.write(nb, str(path))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_started(server, run_id, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.get(f"/cygnet/api/runs/{run_id}").json()
        if run.get("started"):
            return run
        if run["state"] in ("failed", "cancelled"):
            raise SystemExit(f"run {run_id} {run['state']}: {run['error']}")
        time.sleep(0.1)
    raise SystemExit(f"run {run_id} did not start in {timeout} s")


def firing_case(server, firings):
    r = server.post("/cygnet/api/schedules", json={"notebook": "one.ipynb", "every": "6s", "backend": "slurm",
                                                   "overlap": "allow"})  # fmt: skip
    if r.status_code != 201:
        raise SystemExit(f"schedule refused: {r.text}")
    schedule_id = r.json()["id"]
    deadline = time.monotonic() + firings * 6 + 300
    while server.get(f"/cygnet/api/schedules/{schedule_id}").json()["fired"] < firings:
        if time.monotonic() > deadline:
            raise SystemExit("the schedule did not fire often enough")
        time.sleep(0.5)
    server.http.patch(f"{server.url}/cygnet/api/schedules/{schedule_id}", json={"paused": True}, timeout=30)
    shown = server.get(f"/cygnet/api/schedules/{schedule_id}").json()
    submitted, started = [], []
    for firing in sorted(shown["firings"], key=lambda f: f["slot"])[:firings]:
        run = wait_started(server, firing["run"])
        submitted.append(run["created"] - firing["slot"])
        started.append(run["started"] - firing["slot"])
    return submitted, started


def baseline_case(server, count):
    started = []
    for _ in range(count):
        t0 = time.time()
        r = server.post("/cygnet/api/runs", json={"notebook": "one.ipynb", "backend": "slurm"})
        run = wait_started(server, r.json()["id"])
        started.append(run["started"] - t0)
    return started


def crowd_case(tmp, views_root, users, per_user):
    """`users` x `per_user` schedules due at once; ticks until each has fired; (seconds, lost, twice)."""
    from cygnet.runs import settings as run_settings
    from cygnet.runs.backends.base import RunBackend
    from cygnet.runs.schedule_service import Schedules
    from cygnet.runs.scheduler import tick
    from cygnet.runs.service import Runs

    class RecordedJobs(RunBackend):
        """Records each job it is given; starts none."""

        name = "recorded"
        jobs: list = []

        def describe(self, job):
            return json.dumps({"run": job.run_id})

        def submit(self, job):
            RecordedJobs.jobs.append(job.run_id)
            return f"recorded-{len(RecordedJobs.jobs)}"

        def state(self, job_id, run_dir):
            return "ended"

        def cancel(self, job_id, run_dir):
            pass

    os.environ["CYGNET_VIEWS_PATH"] = str(views_root)
    base = run_settings.load([f"--Cygnet.default_view=LCG_bench/{PLATFORM}", "--Cygnet.runs_min_interval=60"])
    settings = dataclasses.replace(base, data_dir=str(tmp / "crowd-data"), max_schedules=100)
    runs_of = {}
    for u in range(users):
        owner = f"user{u:02d}"
        workspace = tmp / "crowd" / owner
        workspace.mkdir(parents=True)
        make_notebook(workspace / "one.ipynb")
        runs = Runs(settings, workspace, owner=owner)
        runs._backends["recorded"] = RecordedJobs()  # the bench's own backend, as a site's would be
        runs_of[owner] = runs
        book = Schedules(runs)
        for _ in range(per_user):
            book.add({"notebook": "one.ipynb", "cron": "* * * * *", "backend": "recorded"})
    store = Schedules(next(iter(runs_of.values()))).store
    due = min(s.next_slot for s in store.list())
    time.sleep(max(0.0, due - time.time()))
    started = time.time()
    while len(RecordedJobs.jobs) < users * per_user and time.time() - started < 120:
        tick(store, lambda owner: runs_of[owner])
    seconds = time.time() - started
    firings = [f for s in store.list() for f in store.firings(s.id) if f["slot"] == due]
    lost = users * per_user - sum(1 for f in firings if f["state"] == "submitted")
    twice = len(RecordedJobs.jobs) - len(set(RecordedJobs.jobs))
    return seconds, lost, twice, len(RecordedJobs.jobs)


def memory_case(tmp, count):
    from cygnet.runs.scheduler import ScheduleStore, tick
    from cygnet.runs.schedules import check_timing, new_schedule, slot_after

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20

    before = rss_mib()
    store = ScheduleStore(tmp / "memory" / "runs.db")
    for i in range(count):
        s = new_schedule(f"user{i % 50:02d}", {"notebook": "one.ipynb", "every": "1d"})
        check_timing(s, 300)
        s.next_slot = slot_after(s, time.time())
        store.add(s, limit=count)
    for _ in range(10):
        tick(store, lambda owner: None)  # nothing is due: the cost of looking
    return before, rss_mib()


def wake_case(tmp, wakes):
    """Slot -> started of a schedule's runs: `wakes` while the session runs, then `wakes` with the
    session stopped before each slot (the hub's cygnet-runs service starts it again)."""
    from tests.support.hub import Hub

    site = tmp / "hub_config.py"
    site.write_text(
        "c.Spawner.args = ['--allow-root', '--Cygnet.runs_min_interval=20', '--Cygnet.runs_check_every=1']\n"
        "c.CygnetHub.cull_idle_timeout = 0\nc.CygnetHub.runs_wake_lead = 10\n"
    )
    hub = Hub(tmp / "hub-data", env={"CYGNET_VIEWS_PATH": str(tmp / "views")}, args=[f"--config={site}"]).start()
    user = "bench"
    try:
        web = hub.login(user)
        hub.start_session(web, user, {"view": f"LCG_bench/{PLATFORM}"})
        api = hub.api(hub.token(web, user))
        base = f"{hub.url}/user/{user}"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("print(sum(range(1000)))")]
        content = {"type": "notebook", "content": json.loads(nbformat.writes(nb))}
        api.put(f"{base}/api/contents/one.ipynb", json=content, timeout=30).raise_for_status()
        body = {"notebook": "one.ipynb", "every": "20s", "start": int(time.time()) + 15}
        r = api.post(f"{base}/cygnet/api/schedules", json=body, timeout=60)
        if r.status_code != 201:
            raise SystemExit(f"schedule refused: {r.text}")
        schedule_id = r.json()["id"]
        running, stopped = [], []
        for delays, stop in ((running, False), (stopped, True)):
            while len(delays) < wakes:
                slot = _next_slot(api, base, schedule_id)
                if stop:
                    hub.stop_session(api, user)
                run = _run_of_slot(api, base, schedule_id, slot)
                delays.append(run["started"] - slot)
        return running, stopped
    finally:
        hub.stop()


def _next_slot(api, base, schedule_id):
    return api.get(f"{base}/cygnet/api/schedules/{schedule_id}", timeout=30).json()["next_slot"]


def _run_of_slot(api, base, schedule_id, slot, timeout=120):
    """The run a slot fired, once started (the session may be down meanwhile: asked again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            runs = api.get(f"{base}/cygnet/api/runs", timeout=10).json()
        except (OSError, ValueError):
            runs = []
        for run in runs if isinstance(runs, list) else []:
            if run["schedule"] == schedule_id and run["created"] >= slot and run.get("started"):
                return run
        time.sleep(0.2)
    raise SystemExit(f"no run of the slot at {slot} within {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firings", type=int, default=20)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--wakes", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-schedules-"))
    print(f"preparing a view, a workspace and Slurm in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    workspace = tmp / "workspace"
    workspace.mkdir()
    make_notebook(workspace / "one.ipynb")

    woken_running, woken_stopped = wake_case(tmp, args.wakes)
    before, after = memory_case(tmp, 1000)
    crowd_seconds, lost, twice, jobs = crowd_case(tmp, tmp / "views", args.users, args.per_user)
    slurm = Slurm(tmp / "slurm").start()
    env = {**slurm.env, "CYGNET_DATA_DIR": str(tmp / "data"), "CYGNET_VIEWS_PATH": str(tmp / "views")}
    server_args = [f"--Cygnet.default_view=LCG_bench/{PLATFORM}", "--Cygnet.runs_min_interval=5"]
    try:
        with JupyterServer(env=env, root=workspace, args=server_args) as server:
            baseline = baseline_case(server, args.firings)
            submitted, started = firing_case(server, args.firings)
    finally:
        slurm.stop()

    total = args.users * args.per_user
    print(f"\nschedules ({args.firings} firings on Slurm; {total} schedules of {args.users} users at once)")
    print("                                           p50       p99")
    for label, values in (
        ("(a) slot -> submitted", submitted),
        ("(a) slot -> started", started),
        ("baseline: POST /runs -> started", baseline),
    ):
        print(f"  {label:<36} {statistics.median(values):6.2f} s  {percentile(values, 99):6.2f} s")
    print(f"  scheduler's own share (p50)           {statistics.median(started) - statistics.median(baseline):6.2f} s")
    print(f"  (b) {total} due at once: {jobs} submitted in {crowd_seconds:.1f} s, {lost} lost, {twice} twice")
    print(f"  (c) 1,000 schedules: resident {after:.0f} MiB (before any: {before:.0f} MiB; +{after - before:.1f} MiB)")
    for label, values in (
        ("(d) session running: slot -> started", woken_running),
        ("(d) session stopped: slot -> started", woken_stopped),
    ):
        print(f"  {label:<36} {statistics.median(values):6.2f} s  {percentile(values, 99):6.2f} s")
    p99 = percentile(started, 99)
    print(f"  slot -> started p99 = {p99:.2f} s   goal < 2 s   {'met' if p99 < 2 else 'MISSED'}")
    ok = crowd_seconds <= 60 and lost == 0 and twice == 0
    print(f"  {total} at once: {crowd_seconds:.1f} s, {lost} lost, {twice} twice   goal <= 60 s, 0, 0   "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    print(f"  memory with 1,000 = {after:.0f} MiB   goal < 100 MiB   {'met' if after < 100 else 'MISSED'}")
    worst = max(woken_stopped)
    print(f"  stopped session's slot -> started max = {worst:.2f} s   goal < 2 s   {'met' if worst < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
