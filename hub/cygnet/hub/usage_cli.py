"""`cygnet usage`: the hub's usage ledger (cygnet.hub.usage), on the hub's machine, as its account:
core-hours and GPU-hours of sessions, gateway Dask clusters, Spark executors and batch runs, per
group or per user, as a table, CSV or JSON."""

import json
import os
import sys
import time

from cygnet.core.errors import BadInput, NotFound


def register(subparsers):
    p = subparsers.add_parser(
        "usage",
        help="core-hours and GPU-hours of the hub's sessions and what ran beside them, per group or user",
        description="Read the hub's usage ledger (<hub dir>/usage.sqlite; run on the hub's machine as its "
        "account). Sessions still running count up to now; a user in two groups counts in both.",
    )
    p.add_argument("--group", help="only this group (what its members used)")
    p.add_argument("--user", help="only what this user used")
    p.add_argument("--since", help="from this day, YYYY-MM-DD in UTC (default: the start of this month)")
    p.add_argument("--until", help="up to this day, YYYY-MM-DD in UTC (default: now)")
    p.add_argument("--by", choices=["group", "user"], default="group", help="totals per group (default) or user")
    p.add_argument(
        "--sessions", action="store_true", help="list each session, cluster, worker and run instead of totals"
    )
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--ledger", help="the ledger file (default: <hub dir>/usage.sqlite)")
    p.set_defaults(func=usage_command)


def usage_command(args, _extra=None):
    from .setup import hub_dir
    from .usage import UsageLedger, as_csv, month_start
    from .usage_page import FIELDS, parse_day

    path = args.ledger or os.path.join(hub_dir(), "usage.sqlite")
    if not os.path.isfile(path):
        raise NotFound(f"no usage ledger at {path}: the hub has recorded no session yet (or see --ledger)")
    try:
        since = parse_day(args.since, "--since") if args.since else month_start()
        until = parse_day(args.until, "--until") if args.until else time.time()
    except ValueError as e:
        raise BadInput(str(e)) from None
    ledger = UsageLedger(path)
    try:
        if args.sessions:
            rows = ledger.rows(since, until, user=args.user, group=args.group)
            fields = (
                "id",
                "user",
                "groups",
                "kind",
                "server",
                "cores",
                "gpus",
                "started",
                "ended",
                "core_hours",
                "gpu_hours",
                "detail",
            )
        else:
            rows = ledger.totals(args.by, since, until, user=args.user, group=args.group)
            fields = FIELDS
    finally:
        ledger.close()
    if args.format == "json":
        print(json.dumps({"since": since, "until": until, "rows": rows}, indent=2))
    elif args.format == "csv":
        sys.stdout.write(as_csv(rows, fields))
    else:
        print("  ".join(f"{f:>12}" for f in fields))
        for row in rows:
            print("  ".join(f"{_shown(row.get(f)):>12}" for f in fields))
    return 0


def _shown(value):
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return ",".join(value) or "-"
    return "-" if value in (None, "") else str(value)
