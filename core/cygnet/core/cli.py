"""The `cygnet` command. Each component contributes subcommands through the
`cygnet.commands` entry point group: a function `register(subparsers)` that adds its parsers
and sets `func(args, config_argv)` on them.

A command should start fast (`cygnet sync` is run in loops and from scripts): the table of
subcommands is cached on disk, so a command imports only its own component, and `--version`
imports nothing at all.
"""

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable

from .disk_cache import read_cache, write_cache
from .errors import CygnetError
from .version import VERSION

CONFIG_FLAG = re.compile(r"--[A-Z][A-Za-z0-9]*\.[A-Za-z_][A-Za-z0-9_]*(=|$)")  # traitlets' --Section.option=value


def main(argv: list[str] | None = None) -> int:
    from .imports import skip_slow_optional_imports

    skip_slow_optional_imports()  # `cygnet up` starts a Jupyter server in this process, `cygnet run` reads notebooks
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["--version"], ["-V"]):
        print(f"cygnet {VERSION}")
        return 0
    table = command_table()
    named = argv[0] if argv and argv[0] in table else None
    parser = build_parser(table, only=named)
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if not getattr(args, "forwards_unknown_args", False):
        # Only configuration flags may be left over: --Cygnet.<option>, --SlurmRunBackend.<option>...
        bad = [a for a in extra if not CONFIG_FLAG.match(a)]
        if bad:
            parser.error(f"unrecognized arguments: {' '.join(bad)}")
    try:
        return args.func(args, extra) or 0
    except CygnetError as e:
        print(f"cygnet: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def build_parser(table: dict[str, str] | None = None, only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with `only` that one (all a run of it needs)."""
    table = command_table() if table is None else table
    parser = argparse.ArgumentParser(
        prog="cygnet",
        description="Cygnet: a notebook analysis service on software views. "
        "Any command also takes --Cygnet.<option>=<value> (and --<Section>.<option>=<value>, as "
        "--LocalRunBackend.warm_idle=0) to override site configuration.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"cygnet {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(table) if only is None else [only]:
        _load(table[name])(sub)
    return parser


def command_table() -> dict[str, str]:
    """name -> "module:function" of every subcommand, from the entry points, cached on disk.
    The cache is keyed on the modification times of sys.path's folders, which an install or an
    uninstall changes; reading entry points costs about 50 ms, the cache under 1 ms."""
    key = [[p, os.stat(p).st_mtime_ns] for p in sys.path if p and os.path.isdir(p)]
    cached = read_cache("commands.json")
    if cached and cached.get("key") == key and isinstance(cached.get("commands"), dict):
        return cached["commands"]
    from importlib.metadata import entry_points

    table = {ep.name: ep.value for ep in entry_points(group="cygnet.commands")}
    write_cache("commands.json", {"key": key, "commands": table})
    return table


def _load(value: str) -> Callable:
    module, _, attr = value.partition(":")
    return getattr(importlib.import_module(module), attr)


if __name__ == "__main__":
    sys.exit(main())
