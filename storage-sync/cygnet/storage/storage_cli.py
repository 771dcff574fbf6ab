"""`cygnet storage ls|stat|cp`: EOS-style storage over XRootD from a terminal."""

import json
import sys
import time

from cygnet.core.config import load_config
from cygnet.core.progress import ProgressBar


def register(subparsers):
    p = subparsers.add_parser("storage", help="list, stat and copy files on XRootD (root://) storage")
    commands = p.add_subparsers(dest="storage_command", required=True, metavar="COMMAND")
    ls = commands.add_parser("ls", help="list a folder")
    ls.add_argument("url")
    ls.add_argument("-l", "--long", action="store_true", help="sizes and times")
    ls.set_defaults(func=ls_command)
    st = commands.add_parser("stat", help="size, time and type of a file or folder")
    st.add_argument("url")
    st.set_defaults(func=stat_command)
    cp = commands.add_parser("cp", help="copy a file between root:// URLs and local paths")
    cp.add_argument("src")
    cp.add_argument("dst")
    cp.add_argument("--parallel", type=int, default=4, help="chunks in flight (default 4)")
    cp.set_defaults(func=cp_command)
    for sub in commands.choices.values():
        sub.add_argument("--json", action="store_true", help="print JSON")


def _env(config_argv):
    """Relative paths mean the EOS home of the configured endpoint, as in kernels."""
    import os

    from cygnet.core import contract

    config = load_config(config_argv)
    os.environ.setdefault(contract.STORAGE_ENDPOINT.name, config.storage_endpoint)
    os.environ.setdefault(contract.STORAGE_HOME.name, config.storage_home)


def ls_command(args, config_argv):
    from cygnet import storage

    _env(config_argv)
    entries = storage.ls(args.url)
    if args.json:
        print(json.dumps(entries, indent=2))
    for e in [] if args.json else entries:
        name = e["name"] + ("/" if e["type"] == "directory" else "")
        print(
            f"{e['size']:>14}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(e['mtime']))}  {name}"
            if args.long
            else name
        )
    return 0


def stat_command(args, config_argv):
    from cygnet import storage

    _env(config_argv)
    info = storage.stat(args.url)
    print(
        json.dumps(info, indent=2)
        if args.json
        else f"{info['type']} {info['size']} bytes, modified "
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info['mtime']))}: {info['url']}"
    )
    return 0


def cp_command(args, config_argv):
    from cygnet import storage
    from cygnet.core.errors import BadInput

    _env(config_argv)
    if args.parallel < 1 or args.parallel > 64:
        raise BadInput("--parallel is between 1 and 64")
    started = time.monotonic()
    progress = _bar() if sys.stderr.isatty() else None
    size = storage.copy(args.src, args.dst, parallel=args.parallel, progress=progress)
    seconds = max(time.monotonic() - started, 1e-6)
    summary = {"src": args.src, "dst": args.dst, "bytes": size, "seconds": round(seconds, 3)}
    print(
        json.dumps(summary)
        if args.json
        else f"copied {size} bytes in {seconds:.2f} s ({size / seconds / 2**20:.0f} MiB/s)"
    )
    return 0


def _bar():
    bar = ProgressBar()
    return lambda done, total: bar.update(done, total, f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB", done)
