"""Many notebooks on one managed Spark Connect server, and sessions that never leak, in one run:
  (a) 10 Cygnet kernels connected to one managed Connect server, each running a small
      aggregation at the same time (rounds of 10): p50 and p99 latency, and the server's
      memory per session;
  (b) the same 10 queries at once from one plain PySpark Connect client (10 threads);
  (c) interrupt to idle kernel for a long job: classic (local) and Connect;
  (d) the server's memory before the 10 sessions and after their kernels are killed -9 (the
      server's sweep releases their sessions).
Goals: (a) p99 within 1.5x of (b)'s; (c) under 2 s for both; (d) within 10% of the level before.

    .venv/bin/python bench/spark_sessions.py [--rounds 5] [--views DIR]
Builds a view with Spark (about 45 s) unless --views names a root that has one.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from tests.support.jupyter import JupyterServer  # noqa: E402
from tests.support.views import spark_views  # noqa: E402

NOTEBOOKS = 10
QUERY = "spark.range(200000).selectExpr('id % 10 AS k').groupBy('k').count().collect()"
LONG = "spark.range(0, 10**12, 1, 8).selectExpr('sum(sqrt(id))').collect()"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def rss(pid):
    return psutil.Process(pid).memory_info().rss


def timed_run(kernel, code, timeout=300):
    started = time.perf_counter()
    kernel.run(code, timeout=timeout)
    return time.perf_counter() - started


def notebooks_at_once(kernels, rounds):
    latencies = []
    with ThreadPoolExecutor(len(kernels)) as pool:
        for _ in range(rounds):
            latencies += list(pool.map(lambda k: timed_run(k, QUERY), kernels))
    return latencies


def one_client(url, token, rounds):
    """A plain PySpark Connect client with the server's token (a managed server answers no one
    without it), as a user's own script would connect."""
    from pyspark.sql.connect.session import SparkSession

    from cygnet.spark.connect_auth import channel

    spark = SparkSession.builder.channelBuilder(channel(url, token)).create()
    spark.range(10).collect()  # the session, made before timing as the kernels' are
    latencies = []

    def query(_):
        started = time.perf_counter()
        spark.range(200000).selectExpr("id % 10 AS k").groupBy("k").count().collect()
        return time.perf_counter() - started

    with ThreadPoolExecutor(NOTEBOOKS) as pool:
        for _ in range(rounds):
            latencies += list(pool.map(query, range(NOTEBOOKS)))
    spark.stop()
    return latencies


def interrupt_to_idle(server, kernel, cluster):
    kernel.run(f"%spark connect --cluster {cluster}", timeout=300)
    done = threading.Event()
    threading.Thread(target=lambda: (kernel.execute(LONG, timeout=600), done.set()), daemon=True).start()
    time.sleep(5)  # the job is running on every core
    if done.is_set():
        sys.exit(f"the long job on {cluster} ended by itself before the interrupt: the measure would mean nothing")
    started = time.perf_counter()
    server.post(f"/api/kernels/{kernel.id}/interrupt")
    if not done.wait(120):
        return float("inf")
    seconds = time.perf_counter() - started
    kernel.run("%spark disconnect", timeout=120)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--views", help="a views root with a view built with --spark")
    args = parser.parse_args()

    views, kernel_name = spark_views(args.views)
    catalogue = Path(tempfile.mkdtemp()) / "clusters.json"
    clusters = [{"name": "local", "kind": "local", "master": "local[2]"}, {"name": "mine", "kind": "connect-managed"}]
    catalogue.write_text(json.dumps({"clusters": clusters}))
    data = tempfile.mkdtemp()
    env = {"CYGNET_DATA_DIR": data, "CYGNET_VIEWS_PATH": str(views), "SPARK_LOCAL_IP": "127.0.0.1"}
    server_args = [f"--Cygnet.spark_clusters={catalogue}", "--Cygnet.spark_server_check_every=2"]
    with JupyterServer(env=env, root=tempfile.mkdtemp(), args=server_args) as server:
        managed = server.post("/cygnet/api/spark/servers", json={"cluster": "mine"}).json()
        deadline = time.monotonic() + 300
        while (state := server.get(f"/cygnet/api/spark/servers/{managed['id']}").json())["state"] == "starting":
            if time.monotonic() > deadline:
                sys.exit("the managed Spark Connect server did not start")
            time.sleep(1)
        connect_pid = next(
            p.pid for p in psutil.process_iter(["cmdline"]) if "SparkConnectServer" in " ".join(p.info["cmdline"] or [])
        )
        token = (Path(data) / "spark" / "servers" / f"{managed['id']}.token").read_text().strip()
        single = one_client(state["url"], token, args.rounds)  # also warms the server for both
        time.sleep(3)
        before = rss(connect_pid)
        kernels = [server.kernel(kernel_name) for _ in range(NOTEBOOKS)]
        for kernel in kernels:
            kernel.run("%spark connect --cluster mine", timeout=300)
        many = notebooks_at_once(kernels, args.rounds)
        connected = rss(connect_pid)
        pids = [int(k.run("import os; print(os.getpid())")) for k in kernels]
        leases = Path(data) / "spark" / "servers" / f"{managed['id']}.sessions"
        for pid in pids:
            os.kill(pid, 9)
        deadline = time.monotonic() + 120
        while list(leases.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(1)
        released = not list(leases.glob("*.json"))
        time.sleep(40)  # the JVM's periodic collection (every 15 s on a managed server) uncommits
        after = rss(connect_pid)

        classic_kernel, connect_kernel = server.kernel(kernel_name), server.kernel(kernel_name)
        classic = interrupt_to_idle(server, classic_kernel, "local")
        connect = interrupt_to_idle(server, connect_kernel, "mine")
        for kernel in (classic_kernel, connect_kernel):
            kernel.shutdown()

    mib = 1 << 20
    a50, a99 = percentile(many, 50) * 1000, percentile(many, 99) * 1000
    b50, b99 = percentile(single, 50) * 1000, percentile(single, 99) * 1000
    print(f"{NOTEBOOKS} queries at once, {args.rounds} rounds; query: {QUERY}")
    print(f"(a) {NOTEBOOKS} Cygnet notebooks on one managed server   p50 {a50:7.0f} ms   p99 {a99:7.0f} ms")
    print(f"(b) one plain PySpark Connect client, {NOTEBOOKS} threads    p50 {b50:7.0f} ms   p99 {b99:7.0f} ms")
    print(f"    server memory per notebook session: {(connected - before) / NOTEBOOKS / mib:.0f} MiB")
    print(f"(c) interrupt to idle kernel: classic {classic:.2f} s, Connect {connect:.2f} s")
    print(
        f"(d) server memory: {before / mib:.0f} MiB before the sessions, {connected / mib:.0f} MiB with them, "
        f"{after / mib:.0f} MiB after the kills ({'released' if released else 'NOT released'} by the sweep)"
    )
    print(
        f"goals: (a) p99 within 1.5x of (b): {a99 / b99:.2f} {'met' if a99 <= 1.5 * b99 else 'missed'}; "
        f"(c) under 2 s: {'met' if max(classic, connect) < 2 else 'missed'}; "
        f"(d) within 10%: {after / before:.2f} {'met' if released and after <= 1.1 * before else 'missed'}"
    )


if __name__ == "__main__":
    main()
