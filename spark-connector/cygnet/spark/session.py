"""Kernel side: one Spark session per kernel, made from the site's catalogue: connect,
disconnect, status. Its state is in `state`, the checks around a connect in `checks`, the
driver's log in `driver_log`, sparkmonitor's progress in `monitor`.

Runs in the view's Python (standard library, IPython and the view's pyspark). The server hands
the kernel its settings in the environment: the compute layer's catalogue and port leases
(cygnet.compute.kernel_env), and Spark's own (cygnet.spark.kernel_env).
"""

import os
import socket
import sys

from cygnet.compute.catalogue import load_catalogue
from cygnet.compute.ports import PortLease, port_range, ports_dir
from cygnet.core import contract
from cygnet.core.errors import BadInput, CygnetError, NotAuthenticated, Unavailable
from cygnet.core.session_key import session_key

from .checks import (
    check_connect_versions,
    check_reachable,
    check_standalone_resources,
    explain,
    wait_for_executors,
)
from .conf import cluster_conf, effective_conf, view_conf
from .connect_auth import cluster_token, use_token
from .driver_log import driver_log_option
from .java import check_java
from .managed import hold, let_go, server_for_kernel, token_of
from .monitor import monitor_conf
from .spark_home import ensure_pyspark
from .state import STATE
from .ui_auth import filter_conf, has_jws_filter


def catalogue():
    return load_catalogue(contract.CATALOGUE.get() or None)


def default_cluster():
    """The session's cluster (the hub form's choice, through the kernel's environment), else local."""
    return contract.SPARK_CLUSTER.get()


def connect(cluster=None, bundles=(), conf=None, app_name=None, namespace=None, on_log=None):
    """Start a Spark session on `cluster` (default: the session's) and return it; binds `spark`
    (and `sc` where the mode has one) in `namespace` (the notebook's, from the kernel extension)."""
    cluster = cluster or default_cluster()
    with STATE.lock:
        _follow_the_session()
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
            STATE.reset(error=explain(e))
            raise Unavailable(STATE.error) from e
        STATE.session, STATE.state = session, "connected"
        STATE.usage = _record_usage(session, STATE.cluster, log)
        if STATE.cluster.is_connect:  # code that builds its own session joins this one (with its token)
            os.environ["SPARK_REMOTE"] = STATE.remote
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
        _forget_remote()
        if namespace is not None:
            for name in ("spark", "sc"):
                namespace.pop(name, None)


def status():
    if STATE.lock.acquire(blocking=False):  # while a connect runs, its state is the news
        try:
            _follow_the_session()
        finally:
            STATE.lock.release()
    return STATE.to_dict()


def _check_credentials(cluster, log):
    """A Kerberos cluster: a valid ticket first (else say how to get one, instead of a Java
    stack trace), and the delegation tokens the server fetched, for the driver to ship."""
    from cygnet.core import kerberos

    ccache = os.environ.get("KRB5CCNAME")
    ticket = kerberos.status(ccache) if ccache else None
    if ticket is None or ticket.principal is None:
        raise kerberos.refused(f"the Spark cluster {cluster.name}", ccache)
    log(f"Kerberos: {ticket.principal}")
    if cluster.token_service:
        from .tokens import token_file

        path = token_file(contract.SPARK_TOKENS.get(), cluster.name)
        if not os.path.isfile(path):
            raise NotAuthenticated(
                f"there are no delegation tokens for {cluster.name} yet (from {cluster.token_service}): "
                f"{kerberos.HOW_TO_AUTHENTICATE} again"
            )
        os.environ["HADOOP_TOKEN_FILE_LOCATION"] = path  # read by the driver's Hadoop client


def _follow_the_session():
    """A session the notebook stopped itself (`spark.stop()`) is no longer connected: free its
    ports and say disconnected, so status and the next connect see the truth."""
    if STATE.state != "connected" or not _stopped(STATE.session):
        return
    _cleanup()
    STATE.reset()
    _forget_remote()


def _forget_remote():
    os.environ.pop("SPARK_REMOTE", None)
    use_token(None)


def _stopped(session):
    if session is None:
        return True
    if getattr(session, "is_stopped", False):  # Spark Connect
        return True
    context = getattr(session, "_sc", None)
    return context is not None and getattr(context, "_jsc", True) is None  # classic, after stop()


def _start(cluster_name, bundles, options, app_name, log):
    cat = catalogue()
    env = dict(os.environ)
    cluster, conf = effective_conf(cat, cluster_name, bundles, options, env)
    STATE.cluster, STATE.bundles = cluster, bundles
    STATE.options = dict(options) if isinstance(options, dict) else dict(o.split("=", 1) for o in options or ())
    try:
        ensure_pyspark()
        from pyspark.sql import SparkSession
    except ImportError:
        raise Unavailable(
            f"this kernel's view ({contract.VIEW.get() or 'unknown'}) has no pyspark: choose a view with Spark"
        ) from None
    builder = SparkSession.builder.appName(app_name or conf.pop("spark.app.name", None) or _default_app_name())
    if cluster.auth == "kerberos":
        _check_credentials(cluster, log)
    if cluster.is_connect:
        managed = server_for_kernel(cluster, log) if cluster.kind == "connect-managed" else None
        remote = managed["url"] if managed else cluster.remote
        check_reachable(remote, f"the Spark Connect server of {cluster.name}")
        # A managed server answers only with its own token; a site's server may want one too.
        use_token(token_of(managed) if managed else cluster_token(cluster))
        log(f"connecting to Spark Connect at {remote}")
        STATE.conf, STATE.remote = dict(conf), remote
        if managed:  # its UI, for the panel's link
            STATE.conf["cygnet.connect.ui_url"] = managed.get("ui_url") or ""
        # A managed server's spare session has run a first job: this kernel's first query is quicker.
        taken = managed.get("session_id") if managed else None
        try:
            session = builder.remote(f"{remote}/;session_id={taken}" if taken else remote).config(map=conf).create()
        except Exception:  # noqa: BLE001 - a spare the server closed meanwhile: a session of its own, as without one
            if not taken:
                raise
            session = builder.remote(remote).config(map=conf).create()
        try:
            import pyspark

            check_connect_versions(pyspark.__version__, session.version, remote)
        except CygnetError:
            session.stop()
            raise
        if managed:  # the server's sweep releases this session if the kernel goes away
            hold(managed, session)
            STATE.managed = managed["id"]
        return session

    check_java()
    if cluster.kind == "standalone":
        check_reachable(cluster.master, f"the Spark master of {cluster.name}")
        if cluster.ui:
            check_standalone_resources(cluster.ui, conf, cluster.name, log)
    if cluster.kind == "local":
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # nothing outside needs to reach it
    host = os.environ.get("SPARK_LOCAL_IP") or socket.getfqdn()
    STATE.lease = PortLease(ports_dir(), port_range())
    if STATE.lease.note:
        log(STATE.lease.note)
    full = {
        **cluster_conf(cluster),
        **view_conf(sys.executable, env, STATE.lease.ports, host),
        "spark.ui.showConsoleProgress": "false",
        **conf,
    }  # progress shows under the cell instead
    full.update(monitor_conf(full, log))
    STATE.driver_log, log_option = driver_log_option()
    full["spark.driver.extraJavaOptions"] = " ".join(
        filter(None, [log_option, full.get("spark.driver.extraJavaOptions")])
    )
    if cluster.kind == "local":  # the driver's RPC and block manager ask for the JVM's own secret
        full.setdefault("spark.authenticate", "true")
    secret = _private_ui(full, log)
    STATE.conf = full
    log(f"starting a Spark session on {cluster.name} ({cluster.master}), driver ports {STATE.lease.ports}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    _start_jvm(cluster.master, full)
    session = builder.master(cluster.master).config(map={**full, **secret}).getOrCreate()
    if cluster.kind == "standalone":
        try:
            wait_for_executors(session, log)
        except CygnetError:  # a session that failed its checks is not kept for the next connect
            session.stop()
            raise
    return session


def _private_ui(conf, log):
    """The options that make the driver's UI answer only the session's route (secret: kept out
    of the recorded conf); with a Spark that cannot (before 4.0), the UI is off instead."""
    import pyspark

    if conf.get("spark.ui.enabled", "true").lower() == "false":
        return {}
    if has_jws_filter(pyspark.__version__):
        return filter_conf(session_key(), conf)
    if "spark.ui.enabled" not in conf:
        conf["spark.ui.enabled"] = "false"
        log(
            f"Spark {pyspark.__version__} cannot restrict its UI to you, so it is off "
            "(spark.ui.enabled=true turns it on, open to every account on this machine)"
        )
    return {}


def _start_jvm(master, conf):
    """pyspark puts the options of a first session on spark-submit's command line, which every
    account on the machine can read: the JVM starts with the options that are not secret, and
    the secret ones reach it through the configuration object when the session is made."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized(
        conf=SparkConf(loadDefaults=False).setAll([*conf.items(), ("spark.master", master)])
    )


def _record_usage(session, cluster, log):
    """The session, for the server's metrics and the hub's usage ledger (cygnet.compute.usage).
    Executors on a cluster use cores beyond the session's own: counted. Local sessions and
    managed Connect servers run on the session's cores, counted already; a shared Connect
    server's executors serve many users and are the site's to count."""
    from cygnet.compute import usage

    try:
        cores = 0 if cluster.is_connect else executor_cores(session)
        counted = not cluster.is_connect and cluster.kind != "local"
        return usage.begin("spark", cluster.name, cluster.kind, cores=cores, counted=counted)
    except Exception as e:  # noqa: BLE001 - bookkeeping never fails a connect
        log(f"this session is not recorded for the usage ledger: {e}")
        return None


def executor_cores(session):
    """The cores the session's executors have (read once they registered): Spark's own count,
    unless spark.default.parallelism hides it, then what the configuration asks for."""
    sc = session.sparkContext
    conf = sc.getConf()
    if not conf.contains("spark.default.parallelism"):
        return sc.defaultParallelism
    if conf.contains("spark.cores.max"):
        return int(conf.get("spark.cores.max"))
    return int(conf.get("spark.executor.instances", "2")) * int(conf.get("spark.executor.cores", "1"))


def _cleanup():
    session, lease = STATE.session, STATE.lease
    if STATE.usage:
        from cygnet.compute import usage

        usage.end(STATE.usage)
    if session is not None:
        try:
            session.stop()
        except Exception:  # noqa: BLE001 - a dead cluster must not stop the disconnect
            pass
    if lease is not None:
        lease.release()
    if STATE.managed:
        let_go(STATE.managed)


def _default_app_name():
    view = contract.VIEW.get()
    return f"cygnet-{os.environ.get('USER', 'user')}" + (f" ({view})" if view else "")


def _logger(on_log):
    def log(line):
        STATE.log.append(line)
        del STATE.log[:-200]
        if on_log:
            on_log(line)

    return log
