"""What isolation between users costs, side by side in one run (medians over --runs), open and
secured paths alternating so the machine's noise falls on both:
  (1) dask-local: a fresh process starts a LocalCluster (2 workers, processes) and a Client and
      gets a first result, then a 200-task map round trip; open (plain TCP, no gate) against
      Cygnet's private cluster (TLS with per-cluster credentials, the gated dashboard);
  (2) Spark Connect: a first result from a new client session, then a loop of 10 queries, against
      a Connect server without a token and one with Spark's pre-shared token (Cygnet's managed
      servers: token, sc://localhost, the UI's JWSFilter);
  (3) classic Spark `local[2]`: a fresh process's getOrCreate and first job, without and with
      spark.authenticate and the UI's JWSFilter (the secret handed over after the JVM started,
      as cygnet.spark.session does).
Goals: each secured path within 1.10x of the open one; the Connect query loop within 1.05x.

    .venv/bin/python bench/isolation_cost.py [--runs 5] [--spark-runs 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for part in ("core", "spark-connector", "dask-connector"):
    sys.path.insert(0, str(ROOT / part))

ENV = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": os.pathsep.join(sys.path)}

DASK = """
import sys, time
def inc(x):
    return x + 1
if __name__ == "__main__":
    secured = sys.argv[1] == "secured"
    t = time.perf_counter()
    from distributed import Client, LocalCluster
    options = dict(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    if secured:
        from cygnet.dask.private import private_local_cluster, temporary_security
        security = temporary_security()
        cluster = private_local_cluster("bench-key", protocol="tls", security=security, **options)
        client = Client(cluster, security=security)
    else:
        cluster = LocalCluster(**options)
        client = Client(cluster)
    assert client.submit(inc, 1).result() == 2
    first = time.perf_counter() - t
    t = time.perf_counter()
    assert sum(client.gather(client.map(inc, range(200)))) == sum(range(1, 201))
    print(first, time.perf_counter() - t)
    client.close(); cluster.close()
"""

CLASSIC = """
import sys, time
secured = sys.argv[1] == "secured"
t = time.perf_counter()
from pyspark.sql import SparkSession
conf = {"spark.ui.showConsoleProgress": "false", "spark.ui.port": sys.argv[2]}
secret = {}
if secured:
    from pyspark import SparkConf, SparkContext
    from cygnet.spark.ui_auth import filter_conf
    conf["spark.authenticate"] = "true"
    from cygnet.core.session_key import new_key
    secret = filter_conf(new_key())
    public = SparkConf(loadDefaults=False).setAll([*conf.items(), ("spark.master", "local[2]")])
    SparkContext._ensure_initialized(conf=public)
spark = SparkSession.builder.master("local[2]").config(map={**conf, **secret}).getOrCreate()
assert spark.range(1000).selectExpr("sum(id)").collect()[0][0] == 499500
print(time.perf_counter() - t)
spark.stop()
"""


def run_script(script, *args):
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=ENV)
    if out.returncode != 0:
        raise SystemExit(f"the benchmark's child failed:\n{out.stderr[-3000:]}")
    return [float(x) for x in out.stdout.strip().splitlines()[-1].split()]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_once(url, token):
    from pyspark.sql.connect.session import SparkSession

    from cygnet.spark.connect_auth import channel

    t = time.perf_counter()
    session = SparkSession.builder.channelBuilder(channel(url, token)).create()
    assert session.range(1000).selectExpr("sum(id)").collect()[0][0] == 499500
    first = time.perf_counter() - t
    t = time.perf_counter()
    for n in range(10):
        assert session.range(100 + n).count() == 100 + n
    loop = time.perf_counter() - t
    session.client.close()
    return first, loop


def ratio_line(what, open_times, secured_times, goal):
    a, b = statistics.median(open_times), statistics.median(secured_times)
    verdict = "met" if b <= a * goal else "MISSED"
    return f"{what}: open {a:.3f} s, secured {b:.3f} s, ratio {b / a:.2f}x (goal <= {goal:.2f}x: {verdict})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spark-runs", type=int, default=3)
    args = parser.parse_args()
    results = {}

    def add(key, value):
        results.setdefault(key, []).append(value)

    for _ in range(args.runs):
        for mode in ("open", "secured"):
            first, round_trip = run_script(DASK, mode)
            add(("dask first", mode), first)
            add(("dask map", mode), round_trip)

    from cygnet.core.session_key import new_key
    from cygnet.spark.connect_auth import new_token
    from cygnet.spark.launch import start_connect_server, stop_pids

    folder = Path(tempfile.mkdtemp(prefix="cygnet-bench-isolation-"))
    tokens = {"open": None, "secured": new_token()}
    servers = {
        mode: start_connect_server(
            folder / f"{mode}.log", master="local[2]", env=ENV, token=token, ui_key=token and new_key()
        )
        for mode, token in tokens.items()
    }
    try:
        for _ in range(args.runs):
            for mode in ("open", "secured"):
                first, loop = connect_once(servers[mode]["url"], tokens[mode])
                add(("connect first", mode), first)
                add(("connect loop", mode), loop)
    finally:
        stop_pids([s["pid"] for s in servers.values()])

    for _ in range(args.spark_runs):
        for mode in ("open", "secured"):
            add(("classic", mode), run_script(CLASSIC, mode, str(free_port()))[0])

    print(f"isolation cost, medians of {args.runs} runs ({args.spark_runs} for classic Spark):")
    for key, goal in (
        ("dask first", 1.10),
        ("dask map", 1.10),
        ("connect first", 1.10),
        ("connect loop", 1.05),
        ("classic", 1.10),
    ):
        label = {
            "dask first": "dask-local connect to first result",
            "dask map": "dask-local 200-task map round trip",
            "connect first": "Spark Connect first result",
            "connect loop": "Spark Connect 10-query loop",
            "classic": "classic Spark local connect + first job",
        }[key]
        print(ratio_line(label, results[(key, "open")], results[(key, "secured")], goal))


if __name__ == "__main__":
    main()
