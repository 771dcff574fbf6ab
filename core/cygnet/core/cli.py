"""The `cygnet` command. Each component contributes subcommands through the
`cygnet.commands` entry point group: a function `register(subparsers)` that adds its parsers
and sets `func(args, config_argv)` on them."""

import argparse
import sys
from importlib.metadata import entry_points

from .errors import CygnetError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cygnet",
        description="Cygnet: a notebook analysis service on software views. "
        "Any command also takes --Cygnet.<option>=<value> to override site configuration.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="cygnet.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if not getattr(args, "forwards_unknown_args", False):
        # Only configuration flags may be left over.
        bad = [a for a in extra if not a.startswith("--Cygnet.")]
        if bad:
            parser.error(f"unrecognized arguments: {' '.join(bad)}")
    try:
        return args.func(args, extra) or 0
    except CygnetError as e:
        print(f"cygnet: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
