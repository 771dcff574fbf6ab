"""Kernel side: one Spark session per kernel, made from the site's catalogue.

Runs in the view's Python (standard library, IPython and the view's pyspark). The server hands
the kernel its settings in the environment: $CYGNET_SPARK_CATALOGUE (the catalogue as JSON),
$CYGNET_SPARK_PORTS (the driver port range) and $CYGNET_SPARK_PORTS_DIR (the port leases).
"""

import os
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

from cygnet.core.errors import BadInput, CygnetError, Unavailable

from .catalogue import load_catalogue
from .conf import cluster_conf, effective_conf, view_conf
from .java import check_java
from .ports import PortLease

REACH_TIMEOUT = 5.0  # seconds to reach a master or Connect server before saying it is down
SECRET_WORDS = ("password", "secret", "token", "credential", "key")


class SparkState:
    """What the kernel's Spark session is: disconnected, connecting, connected or error."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self, error=None):
        self.state = "error" if error else "disconnected"
        self.error = error
        self.session = self.cluster = self.lease = None
        self.conf, self.bundles, self.options = {}, [], {}
        self.log = []
        self.driver_log = None  # the classic driver's log4j file

    def to_dict(self):
        data = {"state": self.state, "error": self.error, "cluster": self.cluster.name if self.cluster else None,
                "kind": self.cluster.kind if self.cluster else None, "bundles": list(self.bundles),
                "options": dict(self.options), "conf": masked(self.conf), "ui_url": None, "app_id": None,
                "ports": self.lease.ports if self.lease else [], "driver_log": self.driver_log}
        if self.session is not None and not self.cluster.is_connect:
            sc = self.session.sparkContext
            data["ui_url"], data["app_id"] = sc.uiWebUrl, sc.applicationId
        elif self.session is not None:
            data["ui_url"] = self.conf.get("cygnet.connect.ui_url")
        return data


STATE = SparkState()


def catalogue():
    return load_catalogue(os.environ.get("CYGNET_SPARK_CATALOGUE") or None)


def connect(cluster="local", bundles=(), conf=None, app_name=None, namespace=None, on_log=None):
    """Start a Spark session on `cluster` and return it; binds `spark` (and `sc` where the
    mode has one) in `namespace` (the notebook's, from the kernel extension)."""
    with STATE.lock:
        if STATE.state == "connected":
            raise BadInput(f"already connected to {STATE.cluster.name}: disconnect first")
        bundles = [bundles] if isinstance(bundles, str) else list(bundles or ())
        STATE.reset()
        STATE.state = "connecting"
        log = _logger(on_log)
        try:
            session = _start(cluster, bundles, conf, app_name, log)
        except CygnetError as e:
            _cleanup()
            STATE.reset(error=str(e))
            raise
        except Exception as e:  # noqa: BLE001 - Spark's own failures, named for the user
            _cleanup()
            STATE.reset(error=_explain(e))
            raise Unavailable(STATE.error) from e
        STATE.session, STATE.state = session, "connected"
        if namespace is not None:
            namespace["spark"] = session
            if not STATE.cluster.is_connect:
                namespace["sc"] = session.sparkContext
        log(f"connected to {STATE.cluster.name}")
        return session


def disconnect(namespace=None):
    """Stop the session and free its ports; a no-op when there is none."""
    with STATE.lock:
        _cleanup()
        STATE.reset()
        if namespace is not None:
            for name in ("spark", "sc"):
                namespace.pop(name, None)


def status():
    return STATE.to_dict()


def _start(cluster_name, bundles, options, app_name, log):
    cat = catalogue()
    env = dict(os.environ)
    cluster, conf = effective_conf(cat, cluster_name, bundles, options, env)
    STATE.cluster, STATE.bundles = cluster, bundles
    STATE.options = dict(options) if isinstance(options, dict) else dict(
        o.split("=", 1) for o in options or ())
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise Unavailable(f"this kernel's view ({os.environ.get('CYGNET_VIEW', 'unknown')}) has no pyspark: "
                          "choose a view with Spark") from None
    builder = SparkSession.builder.appName(app_name or conf.pop("spark.app.name", None) or _default_app_name())
    if cluster.is_connect:
        remote = cluster.remote if cluster.kind == "connect" else _managed_remote(cluster)
        _check_reachable(remote, f"the Spark Connect server of {cluster.name}")
        log(f"connecting to Spark Connect at {remote}")
        STATE.conf = conf
        return builder.remote(remote).config(map=conf).create()

    check_java()
    if cluster.kind == "standalone":
        _check_reachable(cluster.master, f"the Spark master of {cluster.name}")
    if cluster.kind == "local":
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # nothing outside needs to reach it
    host = os.environ.get("SPARK_LOCAL_IP") or socket.getfqdn()
    STATE.lease = PortLease(_ports_dir(),
                            os.environ.get("CYGNET_SPARK_PORTS") or "40000-40999")
    full = {**cluster_conf(cluster), **view_conf(sys.executable, env, STATE.lease.ports, host),
            "spark.ui.showConsoleProgress": "false", **conf}  # progress shows under the cell instead
    full.update(_monitor_conf(full, log))
    STATE.driver_log, log_option = _driver_log_option()
    full["spark.driver.extraJavaOptions"] = " ".join(filter(None, [log_option, full.get("spark.driver.extraJavaOptions")]))
    STATE.conf = full
    log(f"starting a Spark session on {cluster.name} ({cluster.master}), driver ports {STATE.lease.ports}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = builder.master(cluster.master).config(map=full).getOrCreate()
    if cluster.kind == "standalone":
        _wait_for_executors(session, log)
    return session


LOG4J2 = """\
# Written by Cygnet: the driver's log goes to a file the Spark panel follows; only errors reach the cell.
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.console.ref = console
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = error
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
"""


def _driver_log_option():
    """(log file, JVM option) sending this kernel's driver log to a file; a user's own
    log4j2.configurationFile in spark.driver.extraJavaOptions comes later and wins."""
    folder = os.path.join(os.path.dirname(_ports_dir()), "logs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"driver-{os.getpid()}-{int(time.time())}.log")
    config = path[:-4] + ".log4j2.properties"
    with open(config, "w") as f:
        f.write(LOG4J2.format(path=path))
    return path, f"-Dlog4j2.configurationFile=file:{config}"


def log_lines(limit=200):
    """Cygnet's connection log, then the end of the driver's log file (classic sessions)."""
    lines = list(STATE.log)
    if STATE.driver_log and os.path.exists(STATE.driver_log):
        with open(STATE.driver_log, errors="replace") as f:
            lines += f.read().splitlines()[-limit:]
    return lines[-limit:]


def _cleanup():
    session, lease = STATE.session, STATE.lease
    if session is not None:
        try:
            session.stop()
        except Exception:  # noqa: BLE001 - a dead cluster must not stop the disconnect
            pass
    if lease is not None:
        lease.release()


def _monitor_conf(conf, log):
    """sparkmonitor's listener for live job progress in classic sessions, where installed."""
    try:
        import pyspark
        from IPython import get_ipython
        from pyspark import SparkConf
    except ImportError:
        return {}
    ip = get_ipython()
    if ip is None or not importable("sparkmonitor"):
        return {}
    os.environ.setdefault("SPARK_HOME", os.path.dirname(pyspark.__file__))  # where it looks for jars
    import logging

    # sparkmonitor logs chatter (and a malformed message) at INFO into the cell: keep warnings only.
    logging.getLogger("tornado.sparkmonitor.kernel").addFilter(lambda record: record.levelno >= logging.WARNING)
    try:
        if "sparkmonitor.kernelextension" not in ip.extension_manager.loaded:
            ip.extension_manager.load_extension("sparkmonitor.kernelextension")
        from sparkmonitor import kernelextension

        _guard_monitor(kernelextension.monitor)
        while _held_monitor_comms:  # the front end's comm, opened before sparkmonitor loaded
            kernelextension.monitor.target_func(_held_monitor_comms.pop(), None)

        monitor_conf = SparkConf(loadDefaults=False)
        kernelextension.configure(monitor_conf)
    except Exception as e:  # noqa: BLE001 - progress is a nicety; the session still works
        log(f"live progress unavailable: sparkmonitor failed: {e}")
        return {}
    extra = dict(monitor_conf.getAll())
    for key, sep in (("spark.driver.extraClassPath", ":"), ("spark.extraListeners", ",")):
        if extra.get(key) and conf.get(key):
            extra[key] = conf[key] + sep + extra[key]
    return extra


_held_monitor_comms = []


def hold_monitor_comm(comm, msg):
    """sparkmonitor's front end opens its 'SparkMonitor' comm once, when the kernel starts, but
    its kernel side loads only when a classic session starts (it costs a socket thread and a
    pyspark import). Until then this target keeps the comm, and _monitor_conf hands it over."""
    _held_monitor_comms[:] = [comm]


def _guard_monitor(monitor):
    """sparkmonitor's relay thread dies on the first event when no front end has opened its
    comm yet ('ScalaMonitor' object has no attribute 'comm'), and the JVM listener then fills
    the cell with broken-pipe errors. Drop events until a front end is there instead."""
    if getattr(monitor, "_cygnet_guarded", False):
        return
    send = type(monitor).send

    def guarded(msg):
        if getattr(monitor, "comm", None) is not None:
            send(monitor, msg)

    monitor.send, monitor._cygnet_guarded = guarded, True


def importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _check_reachable(url, what):
    parts = urlsplit(url.split(",")[0])
    host, port = parts.hostname, parts.port or 15002
    try:
        with socket.create_connection((host, port), timeout=REACH_TIMEOUT):
            pass
    except OSError as e:
        raise Unavailable(f"cannot reach {what} at {url}: {e.strerror or e}") from None


def _wait_for_executors(session, log, timeout=60):
    """A standalone session is only useful once an executor registered."""
    deadline = time.monotonic() + timeout
    tracker = session.sparkContext._jsc.sc().getExecutorMemoryStatus()
    while tracker.size() < 2 and time.monotonic() < deadline:  # the driver counts as one
        time.sleep(0.2)
        tracker = session.sparkContext._jsc.sc().getExecutorMemoryStatus()
    if tracker.size() < 2:
        log("no executor registered yet: the cluster may be full")


def _managed_remote(cluster):
    from .managed import running_server_url

    return running_server_url(cluster.name)


def _ports_dir():
    """Where port leases live: the server's choice, else under Cygnet's data directory."""
    from cygnet.core.config import default_data_dir

    return os.environ.get("CYGNET_SPARK_PORTS_DIR") or os.path.join(default_data_dir(), "spark", "ports")


def _default_app_name():
    view = os.environ.get("CYGNET_VIEW", "")
    return f"cygnet-{os.environ.get('USER', 'user')}" + (f" ({view})" if view else "")


def _explain(error):
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "Java gateway process exited" in str(error):
        return "Spark's JVM did not start (is Java 17+ installed, and JAVA_HOME right?): " + text
    return f"Spark failed to start: {type(error).__name__}: {text}"


def _logger(on_log):
    def log(line):
        STATE.log.append(line)
        del STATE.log[:-200]
        if on_log:
            on_log(line)
    return log


def masked(conf):
    """The configuration with secret-looking values hidden, for displays and replies."""
    return {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in conf.items()}
