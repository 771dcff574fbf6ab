"""`cygnet open` and `cygnet link`: the opener from a terminal. Each command imports what it
needs when it runs: registering every subcommand happens on every `cygnet` call."""

import os
import sys

from cygnet.core.config import load_config


def register(subparsers):
    p = subparsers.add_parser("open", help="clone or update a Git repository (or fetch a notebook) into a workspace")
    p.add_argument("repo", nargs="?", help="the repository URL")
    p.add_argument("--url", help="a .ipynb or .zip URL to download instead of a repository")
    p.add_argument("--branch", help="branch to open (default: the repository's default)")
    p.add_argument("--path", help="file to open inside the repository or archive")
    p.add_argument("--target", help="folder in the workspace (default: named after the repository)")
    p.add_argument("--workspace", default=".", help="the workspace folder (default: the current folder)")
    p.set_defaults(func=open_command)


def register_link(subparsers):
    p = subparsers.add_parser("link", help="make a shareable 'open in Cygnet' link and README badge")
    p.add_argument("repo", nargs="?", help="the repository URL")
    p.add_argument("--url", help="a .ipynb or .zip URL instead of a repository")
    p.add_argument("--branch")
    p.add_argument("--path")
    p.add_argument("--base-url", help="the service's public address (default: Cygnet.link_base_url)")
    p.set_defaults(func=link_command)


def _params(args):
    keys = ("repo", "url", "branch", "path", "target")
    return {k: getattr(args, k, None) for k in keys if getattr(args, k, None)}


def open_command(args, config_argv):
    from .core import open_link, settings_from  # here, so `cygnet` starts fast for other commands

    settings = settings_from(load_config(config_argv))
    path = open_link(
        _params(args), args.workspace, settings, lambda line: print(line, file=sys.stderr, flush=True)
    ).path
    print(os.path.join(args.workspace, path) if args.workspace != "." else path)


def link_command(args, config_argv):
    from .links import build_link

    config = load_config(config_argv)
    base = args.base_url or config.link_base_url or "http://127.0.0.1:8888/"
    link = build_link(base, _params(args))
    print(link["url"])
    print(link["markdown"])
