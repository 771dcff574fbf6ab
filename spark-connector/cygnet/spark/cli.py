"""`cygnet spark up|down|status|clusters`: a real standalone cluster on this machine, and the
site's catalogue."""

import json
import sys
from pathlib import Path

from cygnet.core.config import load_config


def register(subparsers):
    p = subparsers.add_parser("spark", help="start or stop a local Spark standalone cluster; list the site's clusters")
    commands = p.add_subparsers(dest="spark_command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="start a Spark master and workers on 127.0.0.1 (from the installed pyspark)")
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--cores", type=int, default=1, help="cores per worker (default 1)")
    up.add_argument("--memory", default="1g", help="memory per worker (default 1g)")
    up.set_defaults(func=up_command)
    commands.add_parser("down", help="stop the cluster `up` started").set_defaults(func=down_command)
    commands.add_parser("status", help="the running cluster, if any").set_defaults(func=status_command)
    commands.add_parser("clusters", help="the site's clusters (Cygnet.clusters)").set_defaults(func=clusters_command)
    for sub in commands.choices.values():
        sub.add_argument("--json", action="store_true", help="print JSON")


def _state_dir(config):
    return Path(config.data_dir) / "spark" / "standalone"


def up_command(args, config_argv):
    from cygnet.core.errors import BadInput

    from .launch import cluster_up

    if args.workers < 1 or args.cores < 1:
        raise BadInput("--workers and --cores must be at least 1")
    print("starting a Spark master and workers (about 10 s)...", file=sys.stderr, flush=True)
    state = cluster_up(_state_dir(load_config(config_argv)), args.workers, args.cores, args.memory)
    _show(state, args.json)
    return 0


def down_command(args, config_argv):
    from .launch import cluster_down

    stopped = cluster_down(_state_dir(load_config(config_argv)))
    print(json.dumps({"stopped": stopped}) if args.json else ("stopped" if stopped else "no cluster was running"))
    return 0


def status_command(args, config_argv):
    from .launch import cluster_status

    state = cluster_status(_state_dir(load_config(config_argv)))
    if state is None:
        print(json.dumps(None) if args.json else "no cluster is running")
        return 3
    _show(state, args.json)
    return 0


def clusters_command(args, config_argv):
    from cygnet.compute.catalogue import load_catalogue

    catalogue = load_catalogue(load_config(config_argv).clusters or None)
    if args.json:
        print(json.dumps(catalogue.to_dict(), indent=2))
        return 0
    for c in catalogue.clusters:
        d = c.to_dict()
        where = d.get("master") or d.get("remote") or d.get("address") or ""
        print(f"{c.name:16} {c.kind:16} {where:32} {c.display_name}")
    return 0


def _show(state, as_json):
    if as_json:
        print(json.dumps({k: v for k, v in state.items() if k != "pids"}, indent=2))
    else:
        print(f"master {state['master_url']}\nSpark UI {state['ui_url']}\nworkers {state['workers']}")
