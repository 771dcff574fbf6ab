"""Custom environments and non-Python view kernels, side by side in one run:
  (a) `python -m venv` + `pip install -r requirements.txt` (the baseline),
  (b) `uv venv` + `uv pip install -r requirements.txt`,
  (c) Cygnet's first build through a link (/cygnet/open?repo=...&env=1: clone, build on the
      default view, a session on the new kernel), request to `done`,
  (d) Cygnet's re-open of a repository whose environment is built (request to `done`),
for a repository whose requirements are numpy, pandas and matplotlib from the package index; and
  (e) a plain bash_kernel from a kernel.json against (f) the same kernel shipped by a view and
      started through the cygnet-view provisioner (POST /api/kernels to the first reply).
Package caches (pip's, uv's) are warmed once before timing, so every case reads the same cache.
Goals: (c) within 1.1x of (b) and at least 3x faster than (a); (d) under 2 s; (f) within 1.1x of (e).

    .venv/bin/python bench/custom_env.py [--runs 3] [--kernel-runs 10]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.gitserve import GitDaemon, Upstream  # noqa: E402
from tests.support.jupyter import VENV_BIN, JupyterServer, time_to_first_reply  # noqa: E402
from tests.support.views import BASE_PYTHON, built_kernel_site, kernel_name, language_view  # noqa: E402

PLATFORM = "x86_64-bench"
PACKAGES = "numpy\npandas\nmatplotlib\n"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def requirements(run):
    # A marker that is never true makes each run's requirements (and so its environment) new
    # without changing what is installed.
    return PACKAGES + f'cygnet-bench-none-{run}; python_version < "3"\n'


def timed(cmd, **kw):
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {result.stderr[-2000:]}")
    return time.perf_counter() - started


def pip_case(tmp, run):
    folder = tmp / f"pip-{run}"
    folder.mkdir()
    (folder / "requirements.txt").write_text(requirements(run))
    return timed([BASE_PYTHON, "-m", "venv", str(folder / "venv")]) + timed(
        [str(folder / "venv/bin/python"), "-m", "pip", "install", "-q", "-r", str(folder / "requirements.txt")]
    )


def uv_case(tmp, run):
    uv = str(VENV_BIN / "uv")
    folder = tmp / f"uv-{run}"
    folder.mkdir()
    (folder / "requirements.txt").write_text(requirements(run))
    return timed([uv, "venv", "-q", "--python", BASE_PYTHON, str(folder / "venv")]) + timed(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(folder / "venv/bin/python"),
            "-r",
            str(folder / "requirements.txt"),
        ]
    )


def build_case(tmp, base, base_env, run):
    """Cygnet's build alone, in process: what (c) does between the clone and the session."""
    from cygnet.views.custom import custom_env, find_requirements

    folder = tmp / f"cygnet-{run}"
    folder.mkdir()
    (folder / "requirements.txt").write_text(requirements(f"build-{run}"))
    started = time.perf_counter()
    custom_env(tmp / "built-envs", base, base_env, find_requirements(folder))
    return time.perf_counter() - started


def link_case(server, url):
    started = time.perf_counter()
    events = server.events("/cygnet/api/open", {"repo": url, "path": "analysis.ipynb", "env": "1"}, timeout=900)
    elapsed = time.perf_counter() - started
    kind, data = events[-1]
    if kind != "done":
        raise SystemExit(f"the link failed: {data}")
    for session in server.get("/api/sessions").json():  # not timed: leave no kernels running
        server.delete(f"/api/sessions/{session['id']}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kernel-runs", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-env-"))
    print(f"preparing views and a git daemon in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    langs = language_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    plain = tmp / "jupyter-path" / "kernels" / "plainbash"
    plain.mkdir(parents=True)
    (plain / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(langs / "bin" / "python"), "-m", "bash_kernel", "-f", "{connection_file}"],
                "display_name": "plain bash_kernel",
                "language": "bash",
                "env": {"PYTHONPATH": f"{langs / 'extra'}:{kernel_site}"},
            }
        )
    )
    (tmp / "git").mkdir()
    (tmp / "workspace").mkdir()
    daemon = GitDaemon(tmp / "git").start()
    times = {k: [] for k in "abcdefg"}
    from cygnet.views import EnvironmentCache, find_view

    base = find_view([tmp / "views"], f"LCG_bench/{PLATFORM}")
    base_env = EnvironmentCache(tmp / "bench-cache").get(base).env
    try:
        print("warming pip's and uv's caches (not timed) ...", file=sys.stderr)
        pip_case(tmp, "warm")
        uv_case(tmp, "warm")
        env = {
            "CYGNET_DATA_DIR": str(tmp / "data"),
            "CYGNET_VIEWS_PATH": str(tmp / "views"),
            "JUPYTER_PATH": str(tmp / "jupyter-path"),
        }
        server_args = [
            f"--Cygnet.default_view=LCG_bench/{PLATFORM}",
            "--Cygnet.open_internal_hosts=127.0.0.1",
            "--Cygnet.keep_native_kernels=True",
        ]
        with JupyterServer(env=env, root=tmp / "workspace", args=server_args) as server:
            for run in range(args.runs):
                repo = Upstream(
                    daemon, f"analysis{run}", {"requirements.txt": requirements(run), "analysis.ipynb": NOTEBOOK}
                )
                times["a"].append(pip_case(tmp, run))
                times["b"].append(uv_case(tmp, run))
                times["c"].append(link_case(server, repo.url))
                times["d"].append(link_case(server, repo.url))
                times["g"].append(build_case(tmp, base, base_env, run))
                print(
                    f"run {run + 1}/{args.runs}: " + "  ".join(f"{k}={times[k][-1]:.2f}s" for k in "abcdg"),
                    file=sys.stderr,
                )
            view_bash = f"{kernel_name('LCG_bench', PLATFORM)}__bash"
            time_to_first_reply(server, "plainbash", "true")  # warm the OS caches
            time_to_first_reply(server, view_bash, "true")
            for run in range(args.kernel_runs):
                for case, name in (("e", "plainbash"), ("f", view_bash))[:: 1 if run % 2 else -1]:
                    times[case].append(time_to_first_reply(server, name, "true"))
    finally:
        daemon.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\ncustom environments for numpy, pandas, matplotlib: median of {args.runs} runs (warm package caches)")
    print(f"  (a) python -m venv + pip install -r     {med['a']:7.2f} s")
    print(f"  (b) uv venv + uv pip install -r         {med['b']:7.2f} s")
    print(f"  (c) Cygnet link, first build            {med['c']:7.2f} s")
    print(f"  (d) Cygnet link, environment reused     {med['d']:7.2f} s")
    print(f"  (c') Cygnet's build alone (in process)  {med['g']:7.2f} s   ({med['g'] / med['b']:.2f}x of (b); the rest")
    print("       of (c) is the link's clone and the notebook's session, which (d) has too)")
    print(f"  (c)/(b) = {med['c'] / med['b']:.2f}   goal <= 1.1   {'met' if med['c'] <= 1.1 * med['b'] else 'MISSED'}")
    print(f"  (a)/(c) = {med['a'] / med['c']:.1f}    goal >= 3     {'met' if med['a'] >= 3 * med['c'] else 'MISSED'}")
    print(f"  (d) = {med['d']:.2f} s       goal < 2 s    {'met' if med['d'] < 2 else 'MISSED'}")
    print(f"\nbash kernel start to first reply: median of {args.kernel_runs} runs")
    print(f"  (e) plain bash_kernel, kernel.json      {med['e']:7.3f} s")
    print(f"  (f) the view's bash kernel (Cygnet)     {med['f']:7.3f} s")
    print(f"  (f)/(e) = {med['f'] / med['e']:.2f}   goal <= 1.1   {'met' if med['f'] <= 1.1 * med['e'] else 'MISSED'}")


if __name__ == "__main__":
    main()
