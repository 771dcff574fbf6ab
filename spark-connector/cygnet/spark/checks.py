"""Kernel side: what is checked around a connect, so failures say why instead of failing deep
inside Java: is the master or Connect server reachable, can a standalone master place the
executors asked for, did an executor register and does it run the kernel's Python, do the
Spark Connect client and server speak the same Spark."""

import re
import socket
import time
from urllib.parse import urlsplit

from cygnet.core.errors import Unavailable

REACH_TIMEOUT = 5.0  # seconds to reach a master or Connect server before saying it is down


def check_reachable(url, what):
    parts = urlsplit(url.split(",")[0])
    host, port = parts.hostname, parts.port or 15002
    try:
        with socket.create_connection((host, port), timeout=REACH_TIMEOUT):
            pass
    except OSError as e:
        raise Unavailable(f"cannot reach {what} at {url}: {e.strerror or e}") from None


def wait_for_executors(session, log, timeout=60):
    """A standalone session is only useful once an executor registered."""
    deadline = time.monotonic() + timeout
    tracker = session.sparkContext._jsc.sc().getExecutorMemoryStatus()
    while tracker.size() < 2 and time.monotonic() < deadline:  # the driver counts as one
        time.sleep(0.2)
        tracker = session.sparkContext._jsc.sc().getExecutorMemoryStatus()
    if tracker.size() < 2:
        log("no executor registered yet: the cluster may be full")
        return
    check_executor_python(session)


def check_executor_python(session):
    """Executors must run the kernel's Python minor version, or every UDF fails on the workers
    ("Python in worker has different version"): ask one executor, and name both versions."""
    import sys

    driver = "{}.{}".format(*sys.version_info[:2])
    # Only builtins in the function: it is pickled for a worker that may not have Cygnet.
    probe = session.sparkContext.parallelize([0], 1).map(lambda _: "{}.{}".format(*__import__("sys").version_info[:2]))
    try:
        worker = probe.collect()[0]
    except Exception as e:  # noqa: BLE001 - PySpark's own message names the versions
        found = re.search(r"different version:?\s*\(?(\d+)[.,\s]+(\d+)", str(e))
        worker = f"{found.group(1)}.{found.group(2)}" if found else None
        if worker is None:
            raise Unavailable(f"the executors cannot run this kernel's Python code: {explain(e)}") from None
    if worker != driver:
        raise Unavailable(
            f"the executors run Python {worker}, this kernel runs Python {driver}: UDFs would fail; choose a "
            "view whose Python matches the cluster's, or set spark.pyspark.python to a matching interpreter"
        )


def explain(error):
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "Java gateway process exited" in str(error):
        return "Spark's JVM did not start (is Java 17+ installed, and JAVA_HOME right?): " + text
    return f"Spark failed to start: {type(error).__name__}: {text}"


def check_connect_versions(client, server, remote):
    """The Connect client and server must share Spark's major and minor version: otherwise
    plans fail later with errors that do not say why. Names both versions."""
    wanted = ".".join(str(server).split(".")[:2])
    if ".".join(client.split(".")[:2]) != wanted:
        raise Unavailable(
            f"the Spark Connect server at {remote} runs Spark {server}, but this kernel's view has the "
            f"Spark {client} client: choose a view whose pyspark is {wanted}"
        )


def check_standalone_resources(ui, conf, name, log=None, timeout=5.0):
    """A standalone master makes an application wait forever for executors no worker can hold:
    ask its web UI (`ui`) first, and name the shortfall. Executors that fit a worker but not
    its free share now only wait for other work to end: that is said in the log. A UI that
    does not answer is no reason to refuse (the wait for executors then reports)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{ui}/json/", timeout=timeout) as answer:
            master = json.load(answer)
    except (OSError, ValueError):
        return
    workers = [w for w in master.get("workers", []) if w.get("state") == "ALIVE"]
    cores = int(conf.get("spark.executor.cores") or 1)
    memory = _mebibytes(conf.get("spark.executor.memory") or "1g")
    if not workers:
        raise Unavailable(f"the Spark master of {name} has no alive workers: no executor can start")
    if not any(w.get("cores", 0) >= cores and w.get("memory", 0) >= memory for w in workers):
        raise Unavailable(
            f"the Spark master of {name} cannot start an executor of {cores} core(s) and {memory} MiB: "
            f"its largest worker has {max(w.get('cores', 0) for w in workers)} core(s) and "
            f"{max(w.get('memory', 0) for w in workers)} MiB (ask for less with spark.executor.cores / "
            "spark.executor.memory)"
        )
    if log and not any(w.get("coresfree", 0) >= cores and w.get("memoryfree", 0) >= memory for w in workers):
        log(f"the cluster {name} is busy: the executors wait until other applications free cores or memory")


def _mebibytes(size):
    """Spark's memory strings ('512m', '2g', '1024k', a number of MiB) in MiB."""
    text = str(size).strip().lower().rstrip("b")
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text)) if text else 1024
