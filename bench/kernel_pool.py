"""Opening a notebook: time from POST /api/sessions (what JupyterLab sends when a notebook opens)
to the reply of its first cell, side by side on real servers, for
  (a) plain ipykernel from a kernel.json (the baseline: JupyterLab as it comes),
  (b) a Cygnet view kernel with the kernel pool off (kernel_pool_size=0, warm environment cache),
  (c) the same view kernel with the pool on, for a view used before (its pooled kernel ready).
Also the memory (RSS) of a pooled kernel beside an idle kernel the user opened, and restarting a
kernel to its first reply on a new connection (as JupyterLab reconnects after a restart): (d) pool
off, jupyter_server's restart in place; (e) pool on, the restart takes a pooled kernel's process.
Goals: (c) under 0.100 s; a pooled kernel no larger than an idle kernel.

    .venv/bin/python bench/kernel_pool.py [--runs 15]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cygnet.kernels.pool import READY  # noqa: E402
from tests.support.jupyter import JupyterServer, KernelClient  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view, plain_kernel_spec  # noqa: E402

PLATFORM = "x86_64-bench"


def open_to_first_reply(server, name, path):
    started = time.perf_counter()
    r = server.post("/api/sessions", json={"path": path, "type": "notebook", "name": "", "kernel": {"name": name}})
    if r.status_code != 201:
        raise RuntimeError(f"{path} did not open: {r.text}")
    session = r.json()
    client = KernelClient(server, session["kernel"]["id"])
    status, _, err = client.execute("1 + 1")
    elapsed = time.perf_counter() - started
    if status != "ok":
        raise RuntimeError(f"kernel {name} failed: {err}")
    client.ws.close()
    server.delete(f"/api/sessions/{session['id']}")
    return elapsed


def restart_to_first_reply(server, kernel_id):
    started = time.perf_counter()
    r = server.post(f"/api/kernels/{kernel_id}/restart")
    if r.status_code != 200:
        raise RuntimeError(f"kernel {kernel_id} did not restart: {r.text}")
    client = KernelClient(server, kernel_id)
    status, _, err = client.execute("1 + 1")
    elapsed = time.perf_counter() - started
    client.ws.close()
    if status != "ok":
        raise RuntimeError(f"kernel {kernel_id} failed after its restart: {err}")
    return elapsed


def kernel_starts(server):
    """Pooled kernels made ready so far (cygnet.kernels.pool logs each)."""
    return server.log_path.read_text().count(READY)


def wait_for_starts(server, count, timeout=120):
    deadline = time.monotonic() + timeout
    while kernel_starts(server) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the pool did not refill")
        time.sleep(0.05)


def kernel_rss(server):
    """{kernel id: RSS in MiB} of the server's kernels, listed or pooled."""
    found = {}
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        file = next((a for a in argv if a.endswith(".json") and "kernel-" in a), None)
        if "ipykernel_launcher" in " ".join(argv) and file:
            found[Path(file).stem.removeprefix("kernel-")] = child.memory_info().rss / 2**20
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-"))
    print(f"building a view with ipykernel in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    view = lcg_view(tmp / "views", "LCG_pool", PLATFORM, kernel_site=kernel_site)
    plain_kernel_spec(tmp / "jupyter-path", view, kernel_site)
    name = kernel_name("LCG_pool", PLATFORM)
    (tmp / "ws" / "sub").mkdir(parents=True)

    def server(tag, *extra):
        env = {
            "CYGNET_DATA_DIR": str(tmp / f"data-{tag}"),
            "CYGNET_VIEWS_PATH": str(tmp / "views"),
            "JUPYTER_PATH": str(tmp / "jupyter-path"),
        }
        return JupyterServer(env=env, root=tmp / "ws", args=["--Cygnet.keep_native_kernels=True", *extra])

    times = {"a": [], "b": [], "c": []}
    memory = {}
    with server("off", "--Cygnet.kernel_pool_size=0") as off, server("on", "--Cygnet.kernel_pool_size=1") as on:
        for srv, kernel in ((off, "plain"), (off, name), (on, name)):  # OS caches, environment caches, the pool
            open_to_first_reply(srv, kernel, "warm.ipynb")
        wait_for_starts(on, 1)

        def pooled(run):
            before = kernel_starts(on)
            took = open_to_first_reply(on, name, f"sub/nb{run}.ipynb")
            wait_for_starts(on, before + 1)  # its replacement is ready before the next run
            return took

        cases = {
            "a": lambda run: open_to_first_reply(off, "plain", f"sub/nb{run}.ipynb"),
            "b": lambda run: open_to_first_reply(off, name, f"sub/nb{run}.ipynb"),
            "c": pooled,
        }
        for run in range(args.runs):
            order = "abc"[run % 3 :] + "abc"[: run % 3]
            for case in order:
                times[case].append(cases[case](run))
            print(
                f"run {run + 1}/{args.runs}: " + "  ".join(f"{k}={v[-1]:.3f}s" for k, v in times.items()),
                file=sys.stderr,
            )

        # Memory: an idle kernel the user opened (one cell run) beside the pooled kernel.
        before = kernel_starts(on)
        r = on.post(
            "/api/sessions", json={"path": "idle.ipynb", "type": "notebook", "name": "", "kernel": {"name": name}}
        )
        user_kernel = r.json()["kernel"]["id"]
        client = KernelClient(on, user_kernel)
        client.execute("1 + 1")
        client.ws.close()
        wait_for_starts(on, before + 1)
        listed = {k["id"] for k in on.get("/api/kernels").json()}
        rss = kernel_rss(on)
        memory["user"] = rss.get(user_kernel)
        memory["pooled"] = [v for k, v in rss.items() if k not in listed]

        # Restarts: the user's kernel on each server, the pool refilled before each of (e).
        user_off = off.post(
            "/api/sessions", json={"path": "r.ipynb", "type": "notebook", "name": "", "kernel": {"name": name}}
        ).json()["kernel"]["id"]
        restarts = {"d": [], "e": []}
        for _ in range(args.runs):
            restarts["d"].append(restart_to_first_reply(off, user_off))
            before = kernel_starts(on)
            restarts["e"].append(restart_to_first_reply(on, user_kernel))
            wait_for_starts(on, before + 1)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nopening a notebook to its first reply, median of {args.runs} runs")
    print(f"  (a) plain ipykernel, kernel.json        {med['a']:.3f} s")
    print(f"  (b) Cygnet view kernel, pool off        {med['b']:.3f} s")
    print(f"  (c) Cygnet view kernel, pooled kernel   {med['c']:.3f} s")
    print(f"  (c)/(a) = {med['c'] / med['a']:.3f}   (c)/(b) = {med['c'] / med['b']:.3f}")
    print(f"  (c) goal < 0.100 s: {'met' if med['c'] < 0.1 else 'MISSED'}")
    rmed = {k: statistics.median(v) for k, v in restarts.items()}
    print(f"restarting a kernel to its first reply, median of {args.runs} runs")
    print(f"  (d) pool off, restarted in place        {rmed['d']:.3f} s")
    print(f"  (e) pool on, a pooled kernel's process  {rmed['e']:.3f} s")
    print(f"  (e)/(d) = {rmed['e'] / rmed['d']:.3f}")
    pooled_rss = max(memory["pooled"]) if memory["pooled"] else float("nan")
    print(f"  RSS: idle user kernel {memory['user']:.1f} MiB, pooled kernel {pooled_rss:.1f} MiB")
    print(f"  pooled <= idle: {'met' if pooled_rss <= (memory['user'] or 0) else 'MISSED'}")


if __name__ == "__main__":
    main()
