"""`cygnet sync SRC [DEST]`: mirror a folder to the box."""

import json
import sys
import time
from types import SimpleNamespace

from cygnet.core.progress import ProgressBar
from cygnet.core.settings_cache import settings


def register(subparsers):
    p = subparsers.add_parser("sync", help="mirror a folder to the box (incremental, conflict-safe)")
    p.add_argument("src", help="the local folder to mirror")
    p.add_argument(
        "dest",
        nargs="?",
        help="the box folder: a path, webdav(s)://host/path or root://host//path (default: Cygnet.box_url)",
    )
    p.add_argument("--delete", action="store_true", help="delete from the box what was deleted here")
    p.add_argument("--dry-run", action="store_true", help="only say what would be copied and deleted")
    p.add_argument("--watch", action="store_true", help="keep syncing every --interval seconds until Ctrl-C")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between syncs with --watch (default 5)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=sync_command)


def sync_command(args, config_argv):
    from .sync_engine import sync  # here, so `cygnet` starts fast for other commands

    config = SimpleNamespace(**settings(config_argv, ("data_dir", "box_url", "shares_url", "box_versions")))
    dest = args.dest or config.box_url
    while True:
        summary = sync(
            args.src,
            dest,
            delete=args.delete,
            dry_run=args.dry_run,
            data_dir=config.data_dir,
            progress=_bar() if sys.stderr.isatty() else None,
            protected=[config.shares_url],
            versions=config.box_versions,
            waiting=lambda: print("another sync into this box is running; waiting for it", file=sys.stderr, flush=True),
        )
        report(summary, args.json)
        if not args.watch:
            return 1 if summary.conflicts else 0
        time.sleep(args.interval)


def report(summary, as_json):
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2), flush=True)
        return
    if summary.dry_run:
        for rel in summary.would_copy:
            print(f"would copy   {rel}")
        for rel in summary.would_delete:
            print(f"would delete {rel}")
        return
    print(
        f"copied {summary.copied}, skipped {summary.skipped}, deleted {summary.deleted}, "
        f"conflicts {len(summary.conflicts)}, {summary.bytes} bytes in {summary.seconds:.2f} s",
        flush=True,
    )
    for c in summary.conflicts:
        print(f"conflict: {c['path']} was changed in the box too; the box's version is kept as {c['kept_as']}")
    for rel in summary.left_in_box:
        print(f"kept in the box: {rel} (deleted here, but changed in the box since the last sync)")


def _bar():
    bar = ProgressBar()
    return lambda done, total, sent: bar.update(done, total, f"{done}/{total} files, {sent / 2**20:.1f} MiB", sent)
