"""`cygnet schedule add|list|show|pause|resume|rm`: notebooks run on a schedule. The schedules
are kept beside the runs; a running `cygnet up` (or the user's hub session) fires them."""

import json
import sys
import time

from cygnet.core.paths import from_shell

from .cli import _parameters, _runs


def register(subparsers):
    p = subparsers.add_parser("schedule", help="run a notebook on a schedule (cron or interval)")
    sub = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    q = sub.add_parser("add", help="add a schedule")
    q.add_argument("notebook", help="a notebook in the workspace (relative to it or to this folder, or absolute)")
    when = q.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", default="", help="a cron expression of five fields, e.g. '0 6 * * 1-5'")
    when.add_argument("--every", default="", help="an interval: 90s, 10m, 1h, 2d, 1w")
    q.add_argument("--tz", dest="timezone", default="UTC", help="the cron expression's time zone (default UTC)")
    q.add_argument("--start", default="", help="no run before this time (ISO 8601, in --tz)")
    q.add_argument("--end", default="", help="no run after this time (ISO 8601, in --tz)")
    q.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    q.add_argument("--view", default="")
    q.add_argument("--cluster", default="")
    q.add_argument("--on", dest="backend", default="", help="the backend its runs go to")
    q.add_argument(
        "--misfire",
        choices=("skip", "catch-up"),
        default="skip",
        help="after the service was down: skip the missed runs, or catch up once",
    )
    q.add_argument(
        "--overlap",
        choices=("skip", "allow"),
        default="skip",
        help="when the previous run still runs: skip this one, or run beside it",
    )
    q.add_argument(
        "--check-new-views",
        action="store_true",
        help="at each slot, run it on a view of the same platform that is new since the last check, beside "
        "--view, and compare the results (a slot with no new view is skipped; differing results count as failed)",
    )
    q.add_argument("--notify-on", choices=("failed", "ended", "never"), default="failed")
    q.add_argument("--notify-email", default="", help="an address told when a run fails (or ends)")
    q.add_argument("--notify-webhook", default="", help="a URL that gets a signed JSON POST")
    _common(q)
    q.set_defaults(func=add_command)
    q = sub.add_parser("list", help="your schedules")
    _common(q)
    q.set_defaults(func=list_command)
    for name, func, text in (
        ("show", show_command, "one schedule and its latest firings"),
        ("pause", pause_command, "pause a schedule"),
        ("resume", resume_command, "resume a schedule from now on"),
        ("rm", rm_command, "remove a schedule (its runs stay)"),
    ):
        q = sub.add_parser(name, help=text)
        q.add_argument("id")
        _common(q)
        q.set_defaults(func=func)


def _common(parser):
    parser.add_argument("--workspace", default="", help="the workspace (default: $CYGNET_WORKSPACE or here)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _schedules(args, config_argv):
    from .schedule_service import Schedules

    return Schedules(_runs(args, config_argv))


def add_command(args, config_argv):
    schedules = _schedules(args, config_argv)
    notify = {}
    if args.notify_email or args.notify_webhook:
        notify = {"on": args.notify_on, "email": args.notify_email, "webhook": args.notify_webhook}
    fields = {
        "notebook": from_shell(args.notebook, schedules.runs.workspace),
        "cron": args.cron,
        "every": args.every,
        "timezone": args.timezone,
        "start": args.start,
        "end": args.end,
        "parameters": _parameters(args.parameter),
        "view": args.view,
        "cluster": args.cluster,
        "backend": args.backend,
        "misfire": args.misfire.replace("-", "_"),
        "overlap": args.overlap,
        "notify": notify,
        "check_new_views": args.check_new_views,
    }
    schedule, secret = schedules.add(fields)
    if secret:
        print(f"cygnet: the webhook's signing secret (shown only now): {secret}", file=sys.stderr)
    _show(schedule, args.json)


def list_command(args, config_argv):
    schedules = _schedules(args, config_argv).list()
    if args.json:
        print(json.dumps([s.to_dict() for s in schedules], indent=2))
        return
    for s in schedules:
        when = s.cron + (f" ({s.timezone})" if s.cron else "") or f"every {s.every:g} s"
        state = "paused" if s.paused else f"next {_time(s.next_slot)}"
        print(f"{s.id}  {state:<24}  {when:<24}  {s.notebook}")


def show_command(args, config_argv):
    schedules = _schedules(args, config_argv)
    _show(schedules.get(args.id), args.json, schedules.firings(args.id))


def pause_command(args, config_argv):
    _show(_schedules(args, config_argv).pause(args.id), args.json)


def resume_command(args, config_argv):
    _show(_schedules(args, config_argv).resume(args.id), args.json)


def rm_command(args, config_argv):
    _schedules(args, config_argv).remove(args.id)
    print(f"cygnet: schedule {args.id} removed; its runs and their results stay", file=sys.stderr)


def _show(schedule, as_json, firings=None):
    data = {**schedule.to_dict(), **({"firings": firings} if firings is not None else {})}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for key in ("id", "notebook", "cron", "timezone", "every", "view", "backend", "misfire", "overlap", "last_run"):
        if data.get(key) not in (None, "", 0, 0.0):
            print(f"{key}: {data[key]}")
    print(f"state: {'paused' if schedule.paused else 'active, next run ' + _time(schedule.next_slot)}")
    for firing in firings or []:
        print(f"  {_time(firing['slot'])}  {firing['state']:<9}  {firing['run']}  {firing['note']}")


def _time(seconds):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else "never"
