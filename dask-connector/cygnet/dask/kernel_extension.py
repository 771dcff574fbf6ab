"""Kernel side: `%dask` magics and the `cygnet.dask` comm for the compute panel.

The comm has the shape of Spark's (`cygnet.spark`), so one front end serves both engines:
  -> {"action": "get-state"}                                    <- {"action": "state", "state": {...}}
  -> {"action": "connect", "cluster", "workers"?, "adapt"?, "options"?}
                                                                <- state "connecting", then the final state
  -> {"action": "scale", "workers"}                             <- {"action": "state", ...}
  -> {"action": "adapt", "minimum", "maximum"}                  <- {"action": "state", ...}
  -> {"action": "disconnect"}                                   <- {"action": "state", ...}
  errors                                                        <- {"action": "error", "message", "state"}
"""

import argparse
import shlex
import sys

from cygnet.compute.engine_comm import EngineComm, saved_choice
from cygnet.core.errors import CygnetError
from cygnet.core.units import human_size

from . import session

COMM_TARGET = "cygnet.dask"

USAGE = (
    "%dask connect [--cluster NAME] [--workers N | --adapt MIN MAX] [--option key=value]...\n"
    "%dask status | %dask scale N | %dask adapt MIN MAX | %dask disconnect | %dask clusters\n"
    "connect binds `client` (a distributed.Client); without options it reuses the notebook's saved\n"
    "choice (metadata.cygnet.dask), else the session's Dask cluster (dask-local by default).\n"
    "--option sets a gateway's cluster options."
)


def load_ipython_extension(ip):
    ip.register_magic_function(lambda line="": dask_magic(ip, line), "line", "dask")
    kernel = getattr(ip, "kernel", None)
    if kernel is not None and getattr(kernel, "comm_manager", None) is not None:
        kernel.comm_manager.register_target(COMM_TARGET, lambda comm, msg: DaskComm(ip, comm))


def _parser():
    p = argparse.ArgumentParser(prog="%dask", add_help=False, exit_on_error=False)
    sub = p.add_subparsers(dest="command")
    c = sub.add_parser("connect", add_help=False, exit_on_error=False)
    c.add_argument("--cluster")
    c.add_argument("--workers", type=int)
    c.add_argument("--adapt", type=int, nargs=2, metavar=("MIN", "MAX"))
    c.add_argument("--option", action="append", default=None)
    s = sub.add_parser("scale", add_help=False, exit_on_error=False)
    s.add_argument("workers", type=int)
    a = sub.add_parser("adapt", add_help=False, exit_on_error=False)
    a.add_argument("minimum", type=int)
    a.add_argument("maximum", type=int)
    for name in ("status", "disconnect", "clusters"):
        sub.add_parser(name, add_help=False)
    return p


def dask_magic(ip, line):
    try:
        args = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit, ValueError):
        print(USAGE)
        return None
    try:
        if args.command == "connect":
            bare = args.cluster is None and args.workers is None and args.adapt is None and args.option is None
            saved = saved_choice("dask") if bare else {}  # the notebook's saved choice, as for Spark
            session.connect(
                args.cluster or saved.get("cluster"),
                args.workers if not bare else saved.get("workers"),
                args.adapt if not bare else saved.get("adapt"),
                args.option if not bare else saved.get("options"),
                namespace=ip.user_ns,
                on_log=print,
            )
            _print_state()
        elif args.command == "scale":
            session.scale(args.workers)
            _print_state()
        elif args.command == "adapt":
            session.adapt(args.minimum, args.maximum)
            _print_state()
        elif args.command == "disconnect":
            session.disconnect(ip.user_ns)
            print("Dask: disconnected")
        elif args.command == "clusters":
            for c in session.catalogue().clusters:
                if c.engine == "dask":
                    print(f"{c.name:16} {c.kind:14} {c.address or '(this machine)':32} {c.display_name}")
        elif args.command == "status":
            _print_state()
        else:
            print(USAGE)
    except CygnetError as e:
        print(f"Dask: {e}", file=sys.stderr)  # short, no traceback: the kernel stays usable
    return None


def _print_state():
    state = session.status()
    line = f"Dask: {state['state']}"
    if state["cluster"]:
        line += f" to {state['cluster']} ({state['kind']})"
    if state["state"] == "connected":
        line += f", {state['workers']} worker(s), {state['threads']} thread(s), {human_size(state['memory'])}"
        if state["adapt"]:
            line += f", adapting between {state['adapt'][0]} and {state['adapt'][1]}"
    lines = [line]
    if state["error"]:
        lines.append(f"error: {state['error']}")
    if state["dashboard_url"]:
        lines.append(f"dashboard: {state['dashboard_url']}")
    print("\n".join(lines))


class DaskComm(EngineComm):
    actions = {"connect": "connect", "scale": "scale", "adapt": "adapt", "disconnect": "disconnect"}

    def status(self):
        return session.status()

    def connect(self, data):
        cluster = data.get("cluster") or session.default_cluster()
        self.send_connecting(cluster)
        session.connect(
            cluster,
            data.get("workers"),
            data.get("adapt"),
            data.get("options"),
            namespace=self.ip.user_ns,
            on_log=self.send_log,
        )
        self.send_state()

    def scale(self, data):
        session.scale(data.get("workers"))
        self.send_state()

    def adapt(self, data):
        session.adapt(data.get("minimum"), data.get("maximum"))
        self.send_state()

    def disconnect(self, data):
        session.disconnect(self.ip.user_ns)
        self.send_state()
