"""Kernel side: what is checked around a connect, so failures say why instead of failing deep
inside Java: is the master or Connect server reachable, did an executor register, do the
Spark Connect client and server speak the same Spark."""

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
