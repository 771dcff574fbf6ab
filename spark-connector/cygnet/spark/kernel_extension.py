"""Kernel side: `%spark` magics, the `cygnet.spark` comm for the front end, and live progress
under the running cell for Spark Connect sessions (sparkmonitor shows it for classic ones).

Comm protocol (JSON in both directions, on a comm opened by the front end):
  -> {"action": "get-state"}                                   <- {"action": "state", "state": {...}}
  -> {"action": "connect", "cluster", "bundles", "options"}    <- state "connecting", then the final state
  -> {"action": "disconnect"}                                  <- {"action": "state", ...}
  -> {"action": "logs"}                                        <- {"action": "logs", "lines": [...]}
  errors                                                       <- {"action": "error", "message", "state"}
"""

import argparse
import shlex
import threading

from cygnet.compute.engine_comm import EngineComm, saved_choice
from cygnet.core import contract
from cygnet.core.errors import BadInput, CygnetError
from cygnet.core.units import human_size

from . import monitor
from . import session as spark_session
from .cancel import CellJobs
from .driver_log import log_lines
from .state import STATE

COMM_TARGET = "cygnet.spark"


def load_ipython_extension(ip):
    ip.register_magic_function(lambda line="": spark_magic(ip, line), "line", "spark")
    CellJobs(ip).install()  # the stop button cancels the cell's Spark jobs
    kernel = getattr(ip, "kernel", None)
    if kernel is not None and getattr(kernel, "comm_manager", None) is not None:
        kernel.comm_manager.register_target(COMM_TARGET, lambda comm, msg: SparkComm(ip, comm))
        if monitor.importable("sparkmonitor"):
            kernel.comm_manager.register_target("SparkMonitor", monitor.hold_monitor_comm)
    if contract.SPARK_PRELOAD.get():
        threading.Thread(target=_preload_client, name="cygnet-spark-preload", daemon=True).start()


def _preload_client():
    """Import the Spark Connect client (pandas, pyarrow, grpc: most of a first connect's time)
    while the kernel waits for its first cell."""
    try:
        from .spark_home import ensure_pyspark

        ensure_pyspark()
        import pyspark.sql.connect.session  # noqa: F401
    except Exception:  # noqa: BLE001 - no Spark in this view: connect will say so
        pass


# --- %spark ---------------------------------------------------------------------------------------
def _parser():
    p = argparse.ArgumentParser(prog="%spark", add_help=False, exit_on_error=False)
    sub = p.add_subparsers(dest="command")
    c = sub.add_parser("connect", add_help=False, exit_on_error=False)
    c.add_argument("--cluster")
    c.add_argument("--bundle", action="append", default=None)
    c.add_argument("--conf", action="append", default=None)
    c.add_argument("--name")
    sub.add_parser("status", add_help=False)
    sub.add_parser("disconnect", add_help=False)
    sub.add_parser("clusters", add_help=False)
    sub.add_parser("logs", add_help=False)
    return p


USAGE = (
    "%spark connect [--cluster NAME] [--bundle B]... [--conf key=value]... [--name APP]\n"
    "%spark status | %spark disconnect | %spark clusters | %spark logs\n"
    "Without options, connect reuses the notebook's saved choice (metadata.cygnet.spark), else the\n"
    "session's cluster (chosen when it started; 'local' by default)."
)


def spark_magic(ip, line):
    try:
        args = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit, ValueError):
        print(USAGE)
        return None
    try:
        if args.command == "connect":
            bare = args.cluster is None and args.bundle is None and args.conf is None
            saved = saved_choice("spark") if bare else {}
            cluster = args.cluster or saved.get("cluster") or spark_session.default_cluster()
            bundles = args.bundle if args.bundle is not None else saved.get("bundles") or []
            options = args.conf if args.conf is not None else saved.get("options") or {}
            spark_session.connect(cluster, bundles, options, args.name, namespace=ip.user_ns, on_log=print)
            _progress_for(STATE)
            _print_state()
        elif args.command == "disconnect":
            spark_session.disconnect(ip.user_ns)
            print("Spark: disconnected")
        elif args.command == "clusters":
            for c in spark_session.catalogue().clusters:
                if c.engine == "spark":
                    print(f"{c.name:16} {c.kind:16} {c.display_name}")
        elif args.command == "status":
            _print_state()
        elif args.command == "logs":
            print("\n".join(log_lines()))
        else:
            print(USAGE)
    except CygnetError as e:
        # A short error, not a traceback: the kernel stays usable and connect can be retried.
        print(f"Spark: {e}", file=__import__("sys").stderr)
    return None


def _print_state():
    state = spark_session.status()
    lines = [f"Spark: {state['state']}" + (f" to {state['cluster']} ({state['kind']})" if state["cluster"] else "")]
    if state["error"]:
        lines.append(f"error: {state['error']}")
    if state["ui_url"]:
        lines.append(f"Spark UI: {state['ui_url']}")
    if state["ports"]:
        lines.append(f"driver ports: {', '.join(map(str, state['ports']))}")
    print("\n".join(lines))


# --- the comm ----------------------------------------------------------------------------------------
class SparkComm(EngineComm):
    actions = {"connect": "connect", "disconnect": "disconnect", "logs": "logs"}

    def status(self):
        return spark_session.status()

    def connect(self, data):
        cluster = data.get("cluster") or spark_session.default_cluster()
        bundles, options = data.get("bundles") or [], data.get("options") or {}
        if not isinstance(bundles, list) or not isinstance(options, (dict, list)):
            raise BadInput("connect takes cluster (a name), bundles (a list) and options (a mapping)")
        self.send_connecting(cluster)
        spark_session.connect(
            cluster, bundles, options, data.get("app_name"), namespace=self.ip.user_ns, on_log=self.send_log
        )
        _progress_for(STATE)
        self.send_state()

    def disconnect(self, data):
        spark_session.disconnect(self.ip.user_ns)
        self.send_state()

    def logs(self, data):
        self.comm.send({"action": "logs", "lines": log_lines()})


# --- progress for Spark Connect --------------------------------------------------------------------
def _progress_for(state):
    """Show progress under the running cell for Connect sessions (which sparkmonitor cannot watch)."""
    if state.cluster is None or not state.cluster.is_connect:
        return
    register = getattr(state.session, "registerProgressHandler", None)
    if register is not None:
        register(ConnectProgress())


class ConnectProgress:
    """A display under the running cell, updated as stages advance; one per query."""

    def __init__(self):
        self.handle, self.last = None, None
        self.ended = None  # the operation whose display is final (late calls for it are dropped)

    def __call__(self, stages, inflight_tasks, operation_id=None, done=False):
        from IPython.display import display

        if operation_id is not None and operation_id == self.ended:
            return

        stages = list(stages or ())
        total = sum(s.num_tasks for s in stages)
        finished = sum(s.num_completed_tasks for s in stages)
        read = sum(getattr(s, "num_bytes_read", 0) or 0 for s in stages)
        text = f"Spark job: {len(stages)} stage(s), {finished}/{total} tasks done, {inflight_tasks} running"
        text += (f", {human_size(read)} read" if read else "") + (" - finished" if done else "")
        if text == self.last:
            return
        self.last = text
        percent = 100 * finished // total if total else (100 if done else 0)
        html = (
            f'<div class="cygnet-spark-progress" data-done="{str(bool(done)).lower()}">'
            f'<progress max="100" value="{percent}"></progress> {text}</div>'
        )
        data = {"text/plain": text, "text/html": html}
        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)
        if done:
            self.handle, self.last, self.ended = None, None, operation_id
