"""Quick requests while hostile and heavy work runs: the views listing and the share listing,
p50 and p99, (a) on an idle server (the baseline) and (b) while 8 opens of a server that drips
one byte a second and 20 syncs of 8,000-file folders run at once. Goal: p99 under 200 ms under
that load.

    .venv/bin/python bench/hostile.py [--samples 200] [--files 8000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.hostile import DripServer  # noqa: E402
from tests.support.jupyter import JupyterServer  # noqa: E402

PATHS = ("/cygnet/api/views", "/cygnet/api/shares")


def sample(server, samples, keep_going=lambda: True):
    times = {p: [] for p in PATHS}
    for _ in range(samples):
        if not keep_going():
            break
        for path in PATHS:
            started = time.perf_counter()
            r = server.get(path)
            times[path].append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
        time.sleep(0.02)
    return times


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--files", type=int, default=8000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-hostile-"))
    workspace = tmp / "workspace"
    for i in range(20):
        folder = workspace / f"run{i}"
        for j in range(args.files):
            (folder / f"d{j % 20}").mkdir(parents=True, exist_ok=True)
            (folder / f"d{j % 20}" / f"f{j}.dat").write_bytes(os.urandom(2048))
    env = {"CYGNET_DATA_DIR": str(tmp / "data")}
    server_args = [
        "--Cygnet.build_default_view=False",
        "--Cygnet.open_timeout=60",
        "--Cygnet.open_internal_hosts=127.0.0.1",
        "--Cygnet.long_work_per_user=28",
        "--Cygnet.long_work_workers=28",
        "--log-level=WARN",
    ]
    drip = DripServer("body", interval=1.0)
    with JupyterServer(env=env, root=workspace, args=server_args) as server:
        sample(server, 20)  # warm up
        idle = sample(server, args.samples)

        streams = []

        def slow_open(i):
            try:  # its own connection; cut off when the server stops at the end
                r = requests.get(
                    f"{server.url}/cygnet/api/open",
                    params={"url": f"{drip.url}/n{i}.ipynb"},
                    headers=server.http.headers,
                    stream=True,
                    timeout=120,
                )
                streams.append(r.status_code)
                r.content  # noqa: B018 - read to the end (the deadline)
            except requests.RequestException:
                pass

        openers = [threading.Thread(target=slow_open, args=(i,), daemon=True) for i in range(8)]
        for t in openers:
            t.start()
        jobs = [server.post("/cygnet/api/sync", json={"src": f"run{i}", "dest": f"run{i}"}) for i in range(20)]
        ids = [r.json()["id"] for r in jobs if r.status_code == 202]
        refused = sum(r.status_code == 429 for r in jobs)

        syncing = threading.Event()
        syncing.set()

        def watch_syncs():  # sampling counts only while syncs still run
            while any(
                requests.get(f"{server.url}/cygnet/api/sync/{i}", headers=server.http.headers, timeout=60).json()[
                    "state"
                ]
                in ("queued", "running")
                for i in ids
            ):
                time.sleep(0.5)
            syncing.clear()

        threading.Thread(target=watch_syncs, daemon=True).start()
        started = time.monotonic()
        loaded = sample(server, args.samples * 10, keep_going=syncing.is_set)
        sampled_for = time.monotonic() - started
        states = [server.get(f"/cygnet/api/sync/{i}").json()["state"] for i in ids]
        deadline = time.monotonic() + 600
        while any(server.get(f"/cygnet/api/sync/{i}").json()["state"] in ("queued", "running") for i in ids):
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        final = [server.get(f"/cygnet/api/sync/{i}").json()["state"] for i in ids]
    drip.stop()

    print(
        f"\nquick requests, {args.samples} samples each: idle, and while 8 dripping opens and 20 syncs "
        f"of {args.files} files run"
    )
    print(
        f"  {'':24} {'idle p50':>9} {'idle p99':>9} {'load p50':>9} {'load p99':>9}  p99 load/idle  goal p99 < 200 ms"
    )
    for path in PATHS:
        a, b = idle[path], loaded[path]
        verdict = "met" if p(b, 0.99) < 200 else "MISSED"
        print(
            f"  {path:24} {p(a, 0.5):8.1f}ms {p(a, 0.99):8.1f}ms {p(b, 0.5):8.1f}ms {p(b, 0.99):8.1f}ms  "
            f"{p(b, 0.99) / max(p(a, 0.99), 1e-9):12.2f}   {verdict} (goal p99 < 200 ms)"
        )  # each row names its goal, so that it reaches run_all's table
    print(f"  opens answered {sorted(streams)} (200: a stream that ends at the 60 s deadline)")
    print(
        f"  sampled under load for {sampled_for:.1f} s ({len(loaded[PATHS[0]])} samples each, until the "
        f"syncs ended): sync states then {sorted(set(states))}, "
        f"{refused} of 20 syncs refused (429); all syncs ended: {sorted(set(final))}"
    )
    print(
        f"  medians: views {statistics.median(loaded[PATHS[0]]) * 1000:.1f} ms, "
        f"shares {statistics.median(loaded[PATHS[1]]) * 1000:.1f} ms under load"
    )


if __name__ == "__main__":
    main()
