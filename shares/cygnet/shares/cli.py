"""`cygnet share create|list|refresh|revoke`: share links from a terminal."""

import datetime
import json
import os

from cygnet.core.config import load_config
from cygnet.core.identity import current_user


def register(subparsers):
    p = subparsers.add_parser(
        "share",
        help="make, list, refresh and revoke share links; share this running session (--session)",
        description="Share links: `cygnet share create|list|refresh|revoke`. This running session (under "
        "JupyterHub): `cygnet share --session USER...` shares it with hub users (they see your files and "
        "kernels and run code as you), `--session` alone lists them, `--session --revoke USER` ends it.",
    )
    p.add_argument("--session", nargs="*", metavar="USER", help="share this running session with these hub users")
    p.add_argument("--revoke", metavar="USER", help="with --session: end this user's access to the session")
    p.set_defaults(func=session_command)
    commands = p.add_subparsers(dest="share_command", metavar="COMMAND")

    create = commands.add_parser("create", help="share a snapshot of a notebook, file or folder by link")
    create.add_argument("path", help="what to share, relative to the workspace")
    create.add_argument("--expires", help="lifetime: seconds, or a number with m, h, d or w (e.g. 7d); default: none")
    create.add_argument("--user", action="append", default=[], help="also list it for this user (repeatable)")
    create.set_defaults(func=create_command)

    listing = commands.add_parser("list", help="your shares")
    listing.add_argument("--path", help="only the shares of this path")
    listing.set_defaults(func=list_command)

    for name, text, func in (
        ("refresh", "snapshot the original again", refresh_command),
        ("revoke", "end a share: its link stops working", revoke_command),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("id", help="the share's id (from `cygnet share list`)")
        sub.set_defaults(func=func)

    for sub in commands.choices.values():
        sub.add_argument("--workspace", default=".", help="the workspace folder (default: the current folder)")
        sub.add_argument("--json", action="store_true", help="print JSON")


def session_command(args, config_argv):
    """`--session`: this running session's shares (cygnet.shares.session), through the hub."""
    from cygnet.core.errors import BadInput

    if args.session is None:
        raise BadInput("name a command (create, list, refresh, revoke) or --session; see `cygnet share --help`")
    if args.revoke and args.session:
        raise BadInput("--revoke takes one user: give either users to share with or --revoke USER")
    from .session import for_this_session

    shares = for_this_session()
    try:
        if args.revoke:
            grant = shares.revoke(args.revoke)
            print(f"this session is no longer shared with {grant.user}")
            return 0
        grants = shares.grant(args.session) if args.session else shares.list()
    finally:
        shares.close()
    for g in grants:
        print(f"{g.user}  since {g.created}")
    if not grants:
        print("this session is shared with nobody")
    elif args.session:
        print("they can open this session and run code in it as you; revoke with --session --revoke USER")
    return 0


def _store(args, config):
    from .store import open_share_store

    return open_share_store(config, os.path.abspath(args.workspace))


def create_command(args, config_argv):
    from .store import share_link

    config = load_config(config_argv)
    store = _store(args, config)
    share, token = store.create(args.path, current_user(), args.expires, args.user)
    link = share_link(store, token, config.link_base_url)
    if args.json:
        print(json.dumps({**share.to_dict(), "token": token, "url": link}, indent=2))
        return 0
    print(link)
    note = "" if config.link_base_url else " (on the service's address; set Cygnet.link_base_url for full links)"
    print(f"share {share.id} of {share.path}{note}; this link is shown only now", flush=True)
    return 0


def list_command(args, config_argv):
    shares = _store(args, load_config(config_argv)).list(current_user(), args.path)
    if args.json:
        print(json.dumps([s.to_dict() for s in shares], indent=2))
        return 0
    for s in shares:
        expires = "never" if s.expires is None else ("expired" if s.expired else _when(s.expires))
        users = f"  with {', '.join(s.users)}" if s.users else ""
        print(f"{s.id}  {s.kind:8}  {s.path}  created {_when(s.created)}  expires {expires}{users}")
    return 0


def refresh_command(args, config_argv):
    share = _store(args, load_config(config_argv)).refresh(args.id, current_user())
    print(
        json.dumps(share.to_dict(), indent=2)
        if args.json
        else f"share {share.id} now shows {share.path} as of {_when(share.refreshed)}"
    )
    return 0


def revoke_command(args, config_argv):
    share = _store(args, load_config(config_argv)).revoke(args.id, current_user())
    print(json.dumps({"revoked": share.id}) if args.json else f"revoked share {share.id} of {share.path}")
    return 0


def _when(timestamp):
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
