"""Click to first Spark result, side by side in one run (medians over --runs):
  (a) raw pyspark: a fresh Python process runs SparkSession.builder.master("local[*]")
      .getOrCreate() and a first tiny job;
  (b) `%spark connect` to `local` from a running Cygnet kernel, then the same job;
  (c) `%spark connect` to a pre-warmed managed Spark Connect server, then the same job.
Also the resident memory each additional notebook session adds: (b) the kernel and its JVM,
(c) the kernel plus what the shared Connect server grows by. With the client preloaded, its
import happened before the click and is not in that figure: run with --no-preload for it.
Goals: (b) within 5% of (a); (c) under 0.25 s and at least 10x faster than (a); each additional
(c) session under 100 MB.

    .venv/bin/python bench/spark_connect.py [--runs 3] [--views DIR]
Builds a view with Spark (about 45 s) unless --views names a root that has one.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from tests.support.jupyter import JupyterServer  # noqa: E402
from tests.support.views import spark_views  # noqa: E402

JOB = "spark.range(1000).selectExpr('sum(id)').collect()[0][0]"
RAW = f"""
import time; t = time.perf_counter()
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[*]").config("spark.ui.showConsoleProgress", "false").getOrCreate()
assert {JOB} == 499500
print(time.perf_counter() - t)
spark.stop()
"""


def raw_once():
    out = subprocess.run(
        [sys.executable, "-c", RAW],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    ).stdout
    return float(out.strip().splitlines()[-1])


def tree_rss(pid):
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def kernel_once(server, kernel_name, cluster):
    """(seconds from %spark connect to the first job's result, RSS the session added)."""
    kernel = server.kernel(kernel_name)
    try:
        pid = int(kernel.run("import os; print(os.getpid())"))
        time.sleep(3)  # a notebook is open a while before its first click: let a preload finish
        before = tree_rss(pid)
        started = time.perf_counter()
        kernel.run(f"%spark connect --cluster {cluster}", timeout=300)
        out = kernel.run(f"print({JOB})", timeout=300)
        seconds = time.perf_counter() - started
        assert out.strip() == "499500", out
        return seconds, tree_rss(pid) - before
    finally:
        kernel.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--views", help="a views root with a view built with --spark")
    parser.add_argument(
        "--preload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Cygnet.spark_preload_client for the kernels (default: on)",
    )
    args = parser.parse_args()

    views, kernel_name = spark_views(args.views)
    catalogue = Path(tempfile.mkdtemp()) / "clusters.json"
    catalogue.write_text(
        json.dumps(
            {
                "clusters": [
                    {"name": "local", "kind": "local", "master": "local[*]"},
                    {"name": "mine", "kind": "connect-managed"},
                ]
            }
        )
    )
    env = {"CYGNET_DATA_DIR": tempfile.mkdtemp(), "CYGNET_VIEWS_PATH": str(views), "SPARK_LOCAL_IP": "127.0.0.1"}
    args_server = [f"--Cygnet.spark_clusters={catalogue}", f"--Cygnet.spark_preload_client={args.preload}"]
    with JupyterServer(env=env, root=tempfile.mkdtemp(), args=args_server) as server:
        managed = server.post("/cygnet/api/spark/servers", json={"cluster": "mine"}).json()
        deadline = time.monotonic() + 300
        while server.get(f"/cygnet/api/spark/servers/{managed['id']}").json()["state"] == "starting":
            if time.monotonic() > deadline:
                sys.exit("the managed Spark Connect server did not start")
            time.sleep(1)
        connect_pid = next(
            p.pid for p in psutil.process_iter(["cmdline"]) if "SparkConnectServer" in " ".join(p.info["cmdline"] or [])
        )
        results = {"a": [], "b": [], "c": [], "b_mem": [], "c_mem": [], "c_server_mem": []}
        for run in range(args.runs):
            for which in ("abc", "bca", "cab")[run % 3]:
                if which == "a":
                    results["a"].append(raw_once())
                elif which == "b":
                    seconds, rss = kernel_once(server, kernel_name, "local")
                    results["b"].append(seconds)
                    results["b_mem"].append(rss)
                else:
                    server_before = psutil.Process(connect_pid).memory_info().rss
                    seconds, rss = kernel_once(server, kernel_name, "mine")
                    results["c"].append(seconds)
                    results["c_mem"].append(rss)
                    results["c_server_mem"].append(psutil.Process(connect_pid).memory_info().rss - server_before)

    a, b, c = (statistics.median(results[k]) for k in "abc")
    mib = 1 << 20
    print(f"{args.runs} runs each, medians; job: {JOB}; Cygnet.spark_preload_client={args.preload}")
    print(f"(a) raw local[*] getOrCreate + first job, fresh process  {a:7.2f} s")
    print(f"(b) %spark connect local + first job, Cygnet kernel     {b:7.2f} s   b/a {b / a:.2f}")
    print(f"(c) %spark connect to a pre-warmed managed Connect      {c:7.2f} s   a/c {a / c:.1f}x faster")
    print(
        f"memory per additional session{' (after the preload)' if args.preload else ''}: "
        f"(b) kernel + JVM {statistics.median(results['b_mem']) / mib:.0f} MiB; "
        f"(c) kernel {statistics.median(results['c_mem']) / mib:.0f} MiB + Connect server "
        f"{statistics.median(results['c_server_mem']) / mib:.0f} MiB"
    )
    c_mem = (statistics.median(results["c_mem"]) + max(0, statistics.median(results["c_server_mem"]))) / mib
    print(
        f"goals: (b) within 5% of (a): {'met' if b <= 1.05 * a else 'missed'}; (c) under 0.25 s: "
        f"{'met' if c < 0.25 else 'missed'}; (c) 10x faster than (a): {'met' if a / c >= 10 else 'missed'}; "
        f"(c) session under 100 MB: {'met' if c_mem < 100 else 'missed'} ({c_mem:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
