"""Kernel listings at the scale of a CVMFS views root: 200 views (60 of them broken), every
usable one shipping three kernels besides its Python (R, Octave, bash specs), side by side:
  (a) Jupyter's own server listing the same 560 kernel specs from its data path (the baseline),
  (b) Cygnet's GET /api/kernelspecs over the views root (kept discovery pass),
  (c) Cygnet's first listing after the views root changed (a view added: one new pass),
  (d) GET /cygnet/api/views,
and the server's responsiveness meanwhile: GET /api/status latency while four clients list
kernel specs without pause.
Goals: (b) under 100 ms; /api/status under 100 ms at its worst while listings run.

    .venv/bin/python bench/view_listing.py [--views 200] [--broken 60] [--runs 30]
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.jupyter import VENV_BIN, JupyterServer  # noqa: E402
from tests.support.views import BASE_PYTHON  # noqa: E402

PLATFORM = "x86_64-el9-gcc13-opt"
SPECS = {
    "ir": {"argv": ["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"], "language": "R"},
    "octave": {"argv": ["python", "-m", "octave_kernel", "-f", "{connection_file}"], "language": "octave"},
    "bash": {"argv": ["python", "-m", "bash_kernel", "-f", "{connection_file}"], "language": "bash"},
}


def make_view(root, release, broken):
    """A view as discovery sees it (no interpreter is run while listing): bin/python, lib/pythonX.Y,
    setup.sh and share/jupyter/kernels; a broken one lacks its setup.sh or its interpreter."""
    path = root / release / PLATFORM
    (path / "bin").mkdir(parents=True)
    (path / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    if broken != "no-python":
        for name in ("python", "python3"):
            (path / "bin" / name).symlink_to(BASE_PYTHON)
    if broken != "no-setup":
        (path / "setup.sh").write_text(f'export PATH="{path}/bin:$PATH"\n')
    for name, spec in SPECS.items():
        (path / "share/jupyter/kernels" / name).mkdir(parents=True)
        (path / "share/jupyter/kernels" / name / "kernel.json").write_text(
            json.dumps({**spec, "display_name": name.upper()})
        )
    return path


def native_specs(root, views):
    """The same kernels as plain kernel specs on Jupyter's data path, for the baseline."""
    kernels = root / "kernels"
    for view in views:
        for name, spec in {
            **SPECS,
            "python3": {"argv": ["python", "-m", "ipykernel_launcher"], "language": "python"},
        }.items():
            folder = kernels / f"{view.parent.name.lower()}__{name}"
            folder.mkdir(parents=True)
            (folder / "kernel.json").write_text(json.dumps({**spec, "display_name": f"{name} {view.parent.name}"}))
    return len(list(kernels.iterdir()))


def latency(server, path):
    started = time.perf_counter()
    r = server.get(path)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"GET {path}: {r.status_code} {r.text[:300]}")
    return elapsed, r


def status_under_load(server, seconds=5.0, clients=4):
    stop = threading.Event()

    def lister():
        import requests

        http = requests.Session()
        http.headers["Authorization"] = f"token {server.token}"
        while not stop.is_set():
            http.get(f"{server.url}/api/kernelspecs", timeout=60)

    threads = [threading.Thread(target=lister, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(latency(server, "/api/status")[0])
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--broken", type=int, default=60)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-listing-"))
    root = tmp / "views"
    kinds = ["no-setup", "no-python"]
    views = [make_view(root, f"LCG_{100 + i}", kinds[i % 2] if i < args.broken else "") for i in range(args.views)]
    usable = views[args.broken :]
    count = native_specs(tmp / "jupyter-path", usable)
    print(
        f"{args.views} views ({args.broken} broken) under {root}; {count} native specs for the baseline",
        file=sys.stderr,
    )

    times = {k: [] for k in "abcd"}
    # Jupyter's own kernel spec manager (Cygnet's extension keeps a configured one).
    plain_cmd = [
        str(VENV_BIN / "jupyter"),
        "server",
        "--no-browser",
        "--allow-root",
        "--ServerApp.kernel_spec_manager_class=jupyter_client.kernelspec.KernelSpecManager",
    ]
    with JupyterServer(env={"JUPYTER_PATH": str(tmp / "jupyter-path")}, root=tmp, command=plain_cmd) as plain:
        latency(plain, "/api/kernelspecs")
        times["a"] = [latency(plain, "/api/kernelspecs")[0] for _ in range(args.runs)]
        plain_status = status_under_load(plain)
    env = {"CYGNET_DATA_DIR": str(tmp / "data"), "CYGNET_VIEWS_PATH": str(root)}
    with JupyterServer(env=env, root=tmp, args=["--Cygnet.build_default_view=False"]) as server:
        _, first = latency(server, "/api/kernelspecs")
        listed = len(first.json()["kernelspecs"])
        for _ in range(args.runs):
            times["b"].append(latency(server, "/api/kernelspecs")[0])
            times["d"].append(latency(server, "/cygnet/api/views")[0])
        for run in range(min(args.runs, 10)):
            make_view(root, f"LCG_new{run}", "")
            time.sleep(1.1)  # past the index's look for changes (once a second)
            times["c"].append(latency(server, "/api/kernelspecs")[0])
        status = status_under_load(server)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\nkernel listings over {args.views} views ({args.broken} broken, {listed} kernels listed), "
        f"median of {args.runs}"
    )
    print(f"  (a) Jupyter, {count} specs on its path     {med['a'] * 1000:7.1f} ms")
    print(f"  (b) Cygnet /api/kernelspecs              {med['b'] * 1000:7.1f} ms   ({med['b'] / med['a']:.2f}x of (a))")
    print(f"  (c) Cygnet, first after a view is added  {med['c'] * 1000:7.1f} ms")
    print(f"  (d) Cygnet /cygnet/api/views             {med['d'] * 1000:7.1f} ms")
    print(
        f"  /api/status while 4 clients list: Jupyter median {statistics.median(plain_status) * 1000:.1f} ms, "
        f"worst {max(plain_status) * 1000:.1f} ms; Cygnet median {statistics.median(status) * 1000:.1f} ms, "
        f"worst {max(status) * 1000:.1f} ms"
    )
    print(f"  (b) = {med['b'] * 1000:.1f} ms   goal < 100 ms   {'met' if med['b'] < 0.1 else 'MISSED'}")
    worst = max(status)
    print(f"  worst /api/status = {worst * 1000:.1f} ms   goal < 100 ms   {'met' if worst < 0.1 else 'MISSED'}")


if __name__ == "__main__":
    main()
