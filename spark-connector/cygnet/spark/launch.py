"""Server side: real Spark processes started by Cygnet from the installed pyspark, on loopback.

- a standalone cluster (master plus workers), for `cygnet spark up` / `down`;
- Spark Connect servers (SparkConnectServer via spark-submit), for managed Connect clusters.

The pip package has no start-master.sh, so processes start through its bin/spark-class and
bin/spark-submit, each in its own process group with its log in a file, and are recorded in a
JSON state file so another command (or a restarted server) can find and stop them.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from cygnet.core.atomic import atomic_write
from cygnet.core.errors import CygnetError, Unavailable
from cygnet.core.loopback import free_port
from cygnet.core.proc import alive, pass_niceness_on, tail

from .java import check_java

START_TIMEOUT = 120.0


def spark_home():
    try:
        import pyspark
    except ImportError:
        raise Unavailable("pyspark is not installed with the Cygnet server: pip install pyspark") from None
    return Path(pyspark.__file__).parent


def spark_env(env=None):
    check_java()
    home = spark_home()
    return {
        **(env if env is not None else os.environ),
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "SPARK_NO_DAEMONIZE": "1",
    }


def start_process(cmd, log_path, env=None, cwd=None):
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=spark_env(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pass_niceness_on(proc.pid)  # a Connect server or a standalone cluster runs as nice as its session
    return proc.pid


def stop_pids(pids, grace=10.0):
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        _reap(pids)
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    _reap(pids)


def _reap(pids):
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def wait_for(check, timeout, what, pids, log_path):
    """Poll `check()` until true; Unavailable naming `what` with the log's tail if it is not,
    or if a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        dead = [p for p in pids if not alive(p)]
        if dead:
            raise Unavailable(f"{what} exited while starting; its log ends:\n{tail(read_log(log_path), 20)}")
        time.sleep(0.25)
    raise Unavailable(f"{what} did not start within {timeout:.0f} s; its log ends:\n{tail(read_log(log_path), 20)}")


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def read_log(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


# --- a standalone cluster ----------------------------------------------------------------------------
def cluster_up(state_dir, workers=1, cores=1, memory="1g", timeout=START_TIMEOUT):
    """Start a master and `workers` workers; returns the cluster's state (master URL, UI)."""
    state_dir = Path(state_dir)
    current = cluster_status(state_dir)
    if current:
        return current
    spark_class = str(spark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    logs = state_dir / "logs"
    master_log = logs / "master.log"
    pids = [
        start_process(
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            master_log,
        )
    ]
    state = {
        "master_url": f"spark://127.0.0.1:{port}",
        "ui_url": f"http://127.0.0.1:{ui}",
        "pids": pids,
        "workers": workers,
        "logs": [str(master_log)],
    }
    try:
        wait_for(
            lambda: listening(port) and _master_json(ui) is not None, timeout, "the Spark master", pids, master_log
        )
        for n in range(workers):
            log = logs / f"worker-{n}.log"
            pids.append(
                start_process(
                    [
                        spark_class,
                        "org.apache.spark.deploy.worker.Worker",
                        state["master_url"],
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        str(memory),
                        "--webui-port",
                        str(free_port()),
                    ],
                    log,
                )
            )
            state["logs"].append(str(log))
        wait_for(lambda: _alive_workers(ui) >= workers, timeout, "the Spark workers", pids, logs / "worker-0.log")
    except BaseException:
        stop_pids(pids)
        raise
    atomic_write(state_dir / "standalone.json", json.dumps(state))
    return state


def cluster_status(state_dir):
    """The running cluster's state, or None (a dead one's state file is removed)."""
    path = Path(state_dir) / "standalone.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not all(alive(p) for p in state["pids"]):
        stop_pids(state["pids"])
        path.unlink(missing_ok=True)
        return None
    return state


def cluster_down(state_dir):
    path = Path(state_dir) / "standalone.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    stop_pids(state["pids"])
    path.unlink(missing_ok=True)
    return True


def _master_json(ui):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def _alive_workers(ui):
    data = _master_json(ui) or {}
    return int(data.get("aliveworkers", 0))


# --- Spark Connect servers -----------------------------------------------------------------------------
def connect_server_cmd(port, ui_port, master="local[*]", conf=None, properties_file=None):
    """spark-submit's command for a Connect server. Nothing secret goes here (every account can
    read a command line): secrets reach it through `properties_file` (0600) and its environment."""
    cmd = [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        master,
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        f"spark.ui.port={ui_port}",
        "--conf",
        "spark.driver.host=127.0.0.1",
    ]
    if properties_file:
        cmd += ["--extra-properties-file", str(properties_file)]
    for key, value in (conf or {}).items():
        cmd += ["--conf", f"{key}={value}"]
    return cmd


def start_connect_server(
    log_path,
    master="local[*]",
    conf=None,
    timeout=START_TIMEOUT,
    prewarm=True,
    env=None,
    cwd=None,
    token=None,
    ui_key=None,
):
    """Start a Spark Connect server and wait until it answers (and, with `prewarm`, has run a
    first tiny job, so the user's first job does not pay the JVM's warm-up; the session that ran
    it is kept as the server's `spare_session`, see warm_session). Returns its state.
    `env` and `cwd`: the server's environment (a view's, for its Python workers) and folder.
    `token`: the one clients must present (cygnet.spark.connect_auth); `ui_key`: the key its UI
    requires signatures with (cygnet.spark.ui_auth). Both are handed over out of sight."""
    from .connect_auth import TOKEN_ENV
    from .ui_auth import filter_conf

    port, ui = free_port(), free_port()
    log_path = Path(log_path)
    env = dict(env if env is not None else os.environ)
    if token:
        env[TOKEN_ENV] = token
    properties = None
    if ui_key:
        properties = log_path.with_suffix(".properties")
        write_properties(properties, filter_conf(ui_key, conf))
    conf = {k: v for k, v in (conf or {}).items() if k != "spark.ui.filters"}
    pid = start_process(connect_server_cmd(port, ui, master, conf, properties), log_path, env, cwd)
    state = {
        "pid": pid,
        "port": port,
        # localhost: pyspark sends a token in the clear only there (gRPC's local credentials).
        "url": f"sc://{'localhost' if token else '127.0.0.1'}:{port}",
        "ui_url": f"http://127.0.0.1:{ui}",
        "ui_port": ui,
        "log": str(log_path),
        "master": master,
    }
    try:
        wait_for(lambda: listening(port), timeout, "the Spark Connect server", [pid], log_path)
        if prewarm:
            state["spare_session"] = warm_session(state["url"], token)
    except BaseException:
        stop_pids([pid])
        raise
    return state


def write_properties(path, properties):
    """A Java properties file only its account reads, for spark-submit's --extra-properties-file."""
    lines = [f"{key}={_escaped(value)}" for key, value in properties.items()]
    atomic_write(path, "\n".join(lines) + "\n", mode=0o600)


def _escaped(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n")


def warm_session(url, token=None):
    """A session on the Connect server at `url` that has run a first tiny job, left open: its id,
    for a kernel to take (a new session's first query costs about 0.1 s more on the server than
    the next ones), or None where the client cannot leave a session open."""
    try:
        from pyspark.sql.connect.session import SparkSession

        from .connect_auth import channel

        session = SparkSession.builder.channelBuilder(channel(url, token)).create()
        session.range(1000).selectExpr("sum(id)").collect()
        session_id = session.client._session_id
        keep = hasattr(session, "release_session_on_close")
        if keep:
            session.release_session_on_close = False  # closed here, open on the server
        session.stop()
        return session_id if keep else None
    except ImportError:
        return None  # no Connect client with the server: the first user job warms it instead
    except Exception as e:  # noqa: BLE001 - a server that cannot run a job is not ready
        raise CygnetError(f"the Spark Connect server at {url} started, but a first job failed: {e}") from e
