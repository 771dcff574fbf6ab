"""Dask through Cygnet against plain Dask, side by side in one run (medians over --runs):
  (a) plain distributed: a fresh Python process makes LocalCluster(2 workers) + Client and gets a
      first result, timed from before its imports;
  (b) `%dask connect --workers 2` to dask-local from a running Cygnet kernel, then the same result;
  (c) a gateway cluster with one worker: plain `dask_gateway.Gateway().new_cluster()` in a fresh
      process against `%dask connect --cluster gateway --workers 1` from a Cygnet kernel;
  (d) a parallel reduction (sum) over a 1 GiB zarr array (float64, 16 MiB chunks, random so it
      does not compress away) with 2 workers: on the test xrootd (root://, Cygnet's storage
      options) against the same store on local disk.
Goals: (b) within 1.1x of (a); (c) within 1.1x of the plain gateway; (d) xrootd at least 0.85x
the speed of local disk.

    .venv/bin/python bench/dask_compute.py [--runs 3] [--mib 1024] [--views DIR]
Builds a view with Dask (about 30 s) unless --views names a root that has one.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.dask_gateway import Gateway  # noqa: E402
from tests.support.jupyter import VENV_BIN, JupyterServer  # noqa: E402
from tests.support.xrootd import XRootDServer  # noqa: E402

PLAIN_LOCAL = """
import time; t = time.perf_counter()
from distributed import Client, LocalCluster
if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    assert client.submit(sum, [1, 2, 3]).result() == 6
    print(time.perf_counter() - t)
    client.close(); cluster.close()
"""

PLAIN_GATEWAY = """
import time; t = time.perf_counter()
from dask_gateway import Gateway, auth
gateway = Gateway({address!r}, proxy_address={proxy!r}, auth=auth.BasicAuth("bench", ""))
cluster = gateway.new_cluster(shutdown_on_close=True)
cluster.scale(1)
client = cluster.get_client()
assert client.submit(sum, [1, 2, 3]).result() == 6
print(time.perf_counter() - t)
client.close(); cluster.shutdown()
"""


def fresh_process(code):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        out = subprocess.run([sys.executable, f.name], capture_output=True, text=True, check=True, timeout=600)
    finally:
        os.unlink(f.name)
    return float(out.stdout.strip().splitlines()[-1])


def kernel_once(server, kernel_name, line):
    kernel = server.kernel(kernel_name)
    try:
        started = time.perf_counter()
        out = kernel.run(f"{line}\nprint(client.submit(sum, [1, 2, 3]).result())", timeout=600)
        seconds = time.perf_counter() - started
        assert out.strip().splitlines()[-1] == "6", out
        kernel.run("%dask disconnect", timeout=120)
        return seconds
    finally:
        kernel.shutdown()


def dask_view(views):
    if views is None:
        views = Path(tempfile.mkdtemp()) / "views"
        print("building a view with Dask (about 30 s)...", flush=True)
        subprocess.run(
            [
                str(VENV_BIN / "cygnet"),
                "views",
                "build",
                "bench/x86_64-bench",
                "--dask",
                "--storage",
                "--root",
                str(views),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    views = Path(views)
    view = next(p for r in views.iterdir() for p in r.iterdir() if p.is_dir())
    return views, view, f"{view.parent.name}__{view.name}".lower()


def reduction(url, runs):
    """Medians of (seconds, GiB/s) of summing the store at `url` with the current client."""
    import dask.array as da

    import cygnet.dask

    options = cygnet.dask.storage_options(url) if "://" in url else None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        array = da.from_zarr(url, storage_options=options)
        array.sum().compute()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    return seconds, array.nbytes / 2**30 / seconds


def storage_part(mib, runs, scratch):
    import dask.array as da
    from distributed import Client, LocalCluster

    import cygnet.dask
    import cygnet.storage

    eos = XRootDServer(scratch / "eos").start()
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0")
        client = Client(cluster)
        elements = mib * 2**20 // 8
        data = da.random.random(elements, chunks=2 * 2**20)  # 16 MiB chunks
        local = str(scratch / "local.zarr")
        remote = f"{eos.url}//eos/bench/cube.zarr"
        cygnet.storage.mkdir(f"{eos.url}//eos/bench")
        started = time.perf_counter()
        cygnet.dask.to_zarr(data, local)
        print(f"  wrote {mib} MiB to local disk in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        cygnet.dask.to_zarr(data, remote)
        print(f"  wrote {mib} MiB to xrootd in {time.perf_counter() - started:.1f} s", flush=True)
        reduction(local, 1)  # warm the page cache for both, as a re-read of a dataset would be
        reduction(remote, 1)
        result = {"local": reduction(local, runs), "xrootd": reduction(remote, runs)}
        client.close()
        cluster.close()
        return result
    finally:
        eos.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--views", help="a views root with a view built with --dask")
    args = parser.parse_args()
    views, view, kernel_name = dask_view(args.views)
    scratch = Path(tempfile.mkdtemp(prefix="dask-bench-"))
    gateway = Gateway(scratch / "gateway", [view.parent.parent], default_view=f"{view.parent.name}/{view.name}")
    catalogue = scratch / "clusters.json"
    catalogue.write_text(
        json.dumps({"clusters": [{"name": "dask-local", "kind": "dask-local"}, gateway.catalogue_entry()]})
    )
    server = JupyterServer(
        env={"CYGNET_DATA_DIR": str(scratch / "data"), "CYGNET_VIEWS_PATH": str(views)},
        root=scratch / "workspace",
        args=[f"--Cygnet.spark_clusters={catalogue}", "--Cygnet.build_default_view=False"],
    )
    (scratch / "workspace").mkdir()
    server.start()
    try:
        a, b, c_plain, c_cygnet = [], [], [], []
        proxy = f"gateway://127.0.0.1:{gateway.proxy_port}"
        for run in range(args.runs):
            a.append(fresh_process(PLAIN_LOCAL))
            b.append(kernel_once(server, kernel_name, "%dask connect --workers 2"))
            c_plain.append(fresh_process(PLAIN_GATEWAY.format(address=gateway.address, proxy=proxy)))
            c_cygnet.append(kernel_once(server, kernel_name, "%dask connect --cluster gateway --workers 1"))
            print(
                f"run {run + 1}: a {a[-1]:.2f} s, b {b[-1]:.2f} s, c plain {c_plain[-1]:.2f} s, "
                f"c cygnet {c_cygnet[-1]:.2f} s",
                flush=True,
            )
    finally:
        server.stop()
        gateway.stop()
    print("storage: writing the stores...", flush=True)
    storage = storage_part(args.mib, args.runs, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    ma, mb, mcp, mcc = (statistics.median(x) for x in (a, b, c_plain, c_cygnet))
    (ls, lr), (xs, xr) = storage["local"], storage["xrootd"]
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print(f"\n| | median ({args.runs} runs) |\n| --- | --- |")
    print(f"| (a) plain LocalCluster + Client, fresh process, to a first result | {ma:.2f} s |")
    print(f"| (b) `%dask connect --workers 2` from a Cygnet kernel, to a first result | {mb:.2f} s |")
    print(f"| (c) plain `Gateway().new_cluster()` + 1 worker, fresh process | {mcp:.2f} s |")
    print(f"| (c) `%dask connect --cluster gateway --workers 1` from a Cygnet kernel | {mcc:.2f} s |")
    print(f"| (d) sum of {args.mib} MiB of zarr, 2 workers, local disk | {ls:.2f} s ({lr:.2f} GiB/s) |")
    print(f"| (d) the same on the test xrootd (root://) | {xs:.2f} s ({xr:.2f} GiB/s) |")
    print(f"\n(b)/(a) = {mb / ma:.2f} (goal <= 1.1: {verdict(mb / ma <= 1.1)})")
    print(f"(c) Cygnet/plain = {mcc / mcp:.2f} (goal <= 1.1: {verdict(mcc / mcp <= 1.1)})")
    print(f"(d) xrootd/local speed = {xr / lr:.2f} (goal >= 0.85: {verdict(xr / lr >= 0.85)})")


if __name__ == "__main__":
    main()
