"""`cygnet run NOTEBOOK [-p name=value]... [--view V] [--cluster C] [--on BACKEND] [--out DIR] [--wait]`
(or `--compare-views OLD NEW`), and `cygnet runs list|show|cancel|compare`."""

import json
import os
import sys
import time

from cygnet.core import contract
from cygnet.core.errors import BadInput
from cygnet.core.paths import from_shell


def register(subparsers):
    p = subparsers.add_parser("run", help="run a notebook as a batch job, with parameters")
    p.add_argument("notebook", help="a notebook in the workspace (relative to it or to this folder, or absolute)")
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for the notebook's parameters cell (numbers, true/false and none are typed)",
    )
    p.add_argument("--view", default="", help="the view whose kernel runs it (default: the default view)")
    p.add_argument("--cluster", default="", help="a Spark cluster to connect before the first cell")
    p.add_argument(
        "--on", dest="backend", default="", help="local, slurm, htcondor, kubernetes or a site's own backend"
    )
    p.add_argument("--out", default="", help="a workspace folder for the results (default: beside the notebook)")
    p.add_argument("--wait", action="store_true", help="follow the run to its end; exit 1 if it failed")
    p.add_argument(
        "--compare-views",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="run it on two views with the same parameters, wait for both and compare their results cell by "
        "cell; exit 1 if they differ",
    )
    _tolerance_arguments(p)
    p.add_argument("--workspace", default="", help="the workspace (default: $CYGNET_WORKSPACE or here)")
    p.add_argument("--json", action="store_true", help="print the run as JSON")
    p.set_defaults(func=run_command)


def _tolerance_arguments(p):
    p.add_argument(
        "--rel-tol", type=float, default=0.0, help="numbers in outputs match within this relative difference"
    )
    p.add_argument("--abs-tol", type=float, default=0.0, help="numbers in outputs match within this difference")


def register_runs(subparsers):
    p = subparsers.add_parser("runs", help="list, show and cancel your batch runs")
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="your runs, newest first")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=list_command)
    for name, func, text in (
        ("show", show_command, "one run and its log's tail"),
        ("cancel", cancel_command, "cancel a run"),
    ):
        q = sub.add_parser(name, help=text)
        q.add_argument("id")
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=func)
    q = sub.add_parser("compare", help="compare two ended runs' results cell by cell; exit 1 if they differ")
    q.add_argument("a", help="a run's id (the old, or the reference)")
    q.add_argument("b", help="the other run's id")
    _tolerance_arguments(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=compare_command)


def _runs(args, config_argv):
    from . import settings
    from .service import Runs

    workspace = getattr(args, "workspace", "") or contract.WORKSPACE.get() or os.getcwd()
    return Runs(settings.load(config_argv), workspace)


def _parameters(items):
    from .service import parse_value

    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BadInput(f"a parameter is NAME=VALUE, not {item!r}")
        parameters[name.strip()] = parse_value(value)
    return parameters


def run_command(args, config_argv):
    runs = _runs(args, config_argv)
    runs.check()  # a runs_backend no installed backend provides is named before anything else
    notebook, out = (from_shell(p, runs.workspace) for p in (args.notebook, args.out))
    if args.compare_views:
        tolerance = _tolerance(args)
        if args.view or args.out:
            raise BadInput("--compare-views runs on the two views it names, beside the notebook: drop --view and --out")
        views, parameters = list(args.compare_views), _parameters(args.parameter)
        pair = runs.check_views(notebook, views, parameters, args.cluster, args.backend)
        for run in pair:
            print(f"cygnet: run {run.id} on {run.view} submitted; result: {run.output}", file=sys.stderr)
        pair = [_follow(runs, run, quiet=True) for run in pair]
        return _report(runs.compare(pair[0].id, pair[1].id, tolerance), args.json)
    run = runs.submit(notebook, _parameters(args.parameter), args.view, args.cluster, args.backend, out)
    print(f"cygnet: run {run.id} submitted ({run.backend}, job {run.job_id}); result: {run.output}", file=sys.stderr)
    if args.wait:
        run = _follow(runs, run)
    _show(run, args.json)
    return 1 if args.wait and run.state != "succeeded" else 0


def _follow(runs, run, quiet=False):
    """The run once it has ended, its progress said on the way unless `quiet`."""
    shown = None
    while run.state not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.05)  # a status file read: cheap, and the end is seen without a lag
        run = runs.get(run.id)
        progress = (run.state, run.cells_done)
        if progress != shown and run.state == "running" and not quiet:
            print(f"cygnet: running, {run.cells_done}/{run.cells_total} cells", file=sys.stderr)
            shown = progress
    return run


def compare_command(args, config_argv):
    runs = _runs(args, config_argv)
    return _report(runs.compare(args.a, args.b, _tolerance(args)), args.json)


def _tolerance(args):
    from .compare import Tolerance

    return Tolerance.checked(args.rel_tol, args.abs_tol)


def _report(report, as_json):
    from .compare import describe

    if as_json:
        print(json.dumps(report, indent=2))
    else:
        a, b = report["a"], report["b"]
        print(f"A: run {a['id']} on {a['view']} ({a['state']}): {a['output']}")
        print(f"B: run {b['id']} on {b['view']} ({b['state']}): {b['output']}")
        print("\n".join(describe(report)))
    failed = any(report[side]["state"] != "succeeded" for side in ("a", "b"))
    return 1 if report["verdict"] == "differs" or failed else 0


def list_command(args, config_argv):
    runs = _runs(args, config_argv).list()
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    for r in runs:
        print(f"{r.id}  {r.state:<9}  {r.cells_done}/{r.cells_total}  {r.backend:<8}  {r.notebook} -> {r.output}")


def show_command(args, config_argv):
    runs = _runs(args, config_argv)
    run = runs.get(args.id)
    _show(run, args.json, runs.log_tail(run))


def cancel_command(args, config_argv):
    _show(_runs(args, config_argv).cancel(args.id), args.json)


def _show(run, as_json, log=""):
    data = {**run.to_dict(), **({"log_tail": log} if log else {})}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for key in ("id", "state", "notebook", "output", "html", "view", "kernel", "backend", "job_id", "error"):
        if data.get(key) not in (None, ""):
            print(f"{key}: {data[key]}")
    print(f"cells: {run.cells_done}/{run.cells_total}")
    if log:
        print("log:\n" + log)
