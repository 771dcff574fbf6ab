"""Batch runs, side by side in one run, on a 20-cell notebook with a parameters cell:
  (a) plain papermill in process (`papermill.execute_notebook` on a kernel.json of the same
      interpreter): the baseline,
  (a') papermill's own command line (a fresh process, as a batch job is), for context,
  (b) `cygnet run --on local --wait` (a new command, handed to the warm job the run before left:
      papermill imported, a fresh kernel of the view answering; cygnet.runs.warm),
  (b') the same with warm jobs off (`--LocalRunBackend.warm_idle=0`): a new detached job that
      starts the view's kernel,
  (c) on a real Slurm (slurmctld + slurmd on 127.0.0.1): submit to start (the job's executor is
      running) and submit to done, through POST /cygnet/api/runs,
  (d) 20 runs submitted at once through REST on the local backend: all complete, none lost.
Goals: (b') within 1.0x of (a'); (b) within 1.2x of (a) (issue 32: with a warm kernel); (c) submit
to start under 2 s on an idle node; (d) zero losses. Each round waits for the warm job to be
ready before the baselines run, so its start is not in their time.

    .venv/bin/python bench/runs.py [--runs 5] [--crowd 20]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402

from tests.support.cli import cygnet  # noqa: E402
from tests.support.jupyter import JupyterServer  # noqa: E402
from tests.support.slurm import Slurm  # noqa: E402
from tests.support.views import built_kernel_site, lcg_view  # noqa: E402
from tests.support.warm import stop_warm_jobs, wait_for_warm_job  # noqa: E402

PLATFORM = "x86_64-bench"


def make_notebook(path, cells=20):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n = 1000")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [
        nbformat.v4.new_code_cell(f"x{i} = sum(range(n)) + {i}\nprint(x{i})") for i in range(cells - 1)
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def papermill_case(notebook, out, kernel_dir):
    import os

    import papermill

    os.environ["JUPYTER_PATH"] = str(kernel_dir)
    started = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(out), parameters={"n": 2000}, kernel_name="plain", progress_bar=False)
    return time.perf_counter() - started


def papermill_command_case(notebook, out, kernel_dir):
    """papermill's own command: a fresh process, as every batch job is."""
    import os
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "papermill"), str(notebook), str(out), "-p", "n", "2000", "-k", "plain"],
        check=True,
        capture_output=True,
        env={**os.environ, "JUPYTER_PATH": str(kernel_dir)},
    )
    return time.perf_counter() - started


def cygnet_case(workspace, env, warm=True):
    started = time.perf_counter()
    result = cygnet(
        "run", "twenty.ipynb", "-p", "n=2000", "--on", "local", "--wait", "--workspace", str(workspace),
        *([] if warm else ["--LocalRunBackend.warm_idle=0"]), env=env,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"cygnet run failed: {result.stderr[-1500:]}")
    return elapsed


def slurm_case(server):
    started = time.perf_counter()
    r = server.post("/cygnet/api/runs", json={"notebook": "twenty.ipynb", "backend": "slurm"})
    if r.status_code != 201:
        raise SystemExit(f"submit failed: {r.text}")
    run_id, to_start = r.json()["id"], None
    while True:
        run = server.get(f"/cygnet/api/runs/{run_id}").json()
        if to_start is None and (run["state"] != "queued"):
            to_start = time.perf_counter() - started
        if run["state"] in ("succeeded", "failed", "cancelled"):
            if run["state"] != "succeeded":
                raise SystemExit(f"the Slurm run failed: {run}")
            return to_start, time.perf_counter() - started
        time.sleep(0.05)


def crowd_case(server, count):
    def submit(_):
        r = server.post("/cygnet/api/runs", json={"notebook": "twenty.ipynb", "parameters": {"n": 10}})
        return r.json()["id"] if r.status_code == 201 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        ids = list(pool.map(submit, range(count)))
    states = {}
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        states = {i: server.get(f"/cygnet/api/runs/{i}").json()["state"] for i in ids if i}
        if all(s in ("succeeded", "failed", "cancelled") for s in states.values()):
            break
        time.sleep(1)
    listed = {r["id"] for r in server.get("/cygnet/api/runs").json()}
    lost = sum(1 for i in ids if i is None or i not in listed or states.get(i) != "succeeded")
    return time.perf_counter() - started, lost, states


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--crowd", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-runs-"))
    print(f"preparing a view, a workspace and Slurm in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    view = lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    workspace = tmp / "workspace"
    workspace.mkdir()
    make_notebook(workspace / "twenty.ipynb")
    plain = tmp / "jupyter-path" / "kernels" / "plain"
    plain.mkdir(parents=True)
    (plain / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(view / "bin" / "python3"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "plain",
                "language": "python",
                "env": {"PYTHONPATH": f"{view / 'extra'}:{kernel_site}"},
            }
        )
    )
    slurm = Slurm(tmp / "slurm").start()
    env = {
        **slurm.env,
        "CYGNET_DATA_DIR": str(tmp / "data"),
        "CYGNET_VIEWS_PATH": str(tmp / "views"),
    }
    times = {"a": [], "a2": [], "b": [], "b2": [], "start": [], "done": []}
    try:
        papermill_case(workspace / "twenty.ipynb", tmp / "warm.ipynb", tmp / "jupyter-path")  # warm the caches
        cygnet_case(workspace, env)  # and it leaves a warm job
        for run in range(args.runs):
            wait_for_warm_job(tmp / "data")  # ready: its start is in no case's time
            times["a"].append(papermill_case(workspace / "twenty.ipynb", tmp / f"pm-{run}.ipynb", tmp / "jupyter-path"))
            times["a2"].append(
                papermill_command_case(workspace / "twenty.ipynb", tmp / f"pmc-{run}.ipynb", tmp / "jupyter-path")
            )
            times["b2"].append(cygnet_case(workspace, env, warm=False))
            times["b"].append(cygnet_case(workspace, env))
            print(
                f"run {run + 1}/{args.runs}: a={times['a'][-1]:.2f}s a'={times['a2'][-1]:.2f}s "
                f"b={times['b'][-1]:.2f}s b'={times['b2'][-1]:.2f}s",
                file=sys.stderr,
            )
        with JupyterServer(env=env, root=workspace) as server:
            for _ in range(args.runs):
                to_start, to_done = slurm_case(server)
                times["start"].append(to_start)
                times["done"].append(to_done)
            crowd_seconds, lost, states = crowd_case(server, args.crowd)
    finally:
        slurm.stop()
        stop_warm_jobs(tmp)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nbatch runs of a 20-cell notebook, median of {args.runs}")
    print(f"  (a) papermill in process                 {med['a']:6.2f} s")
    print(f"  (a') papermill's command (a new process)  {med['a2']:6.2f} s")
    print(f"  (b) cygnet run --on local --wait         {med['b']:6.2f} s   (a warm job)")
    print(f"  (b') the same, warm jobs off             {med['b2']:6.2f} s")
    print(f"  (c) Slurm: submit to start {med['start']:.2f} s, submit to done {med['done']:.2f} s")
    print(f"  (d) {args.crowd} runs at once through REST: all ended in {crowd_seconds:.1f} s, {lost} lost or failed")
    print(f"  (b')/(a') = {med['b2'] / med['a2']:.2f}  goal <= 1.0   {'met' if med['b2'] <= med['a2'] else 'MISSED'}")
    print(f"  (b)/(a) = {med['b'] / med['a']:.2f}   goal <= 1.2   {'met' if med['b'] <= 1.2 * med['a'] else 'MISSED'}")
    print(f"  Slurm submit to start = {med['start']:.2f} s   goal < 2 s   {'met' if med['start'] < 2 else 'MISSED'}")
    print(f"  lost = {lost}   goal 0   {'met' if lost == 0 else 'MISSED'}")


if __name__ == "__main__":
    main()
