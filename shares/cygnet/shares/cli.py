"""`cygnet share create|list|refresh|revoke`: share links from a terminal; `cygnet share
folder|folders|folder-revoke|folder-stop`: folders shared live (under a hub)."""

import datetime
import json
import os

from cygnet.core.config import load_config
from cygnet.core.identity import current_user


def register(subparsers):
    p = subparsers.add_parser(
        "share",
        help="share links; this running session (--session); folders shared live",
        description="Share links: `cygnet share create|list|refresh|revoke`. This running session (under "
        "JupyterHub): `cygnet share --session USER...` shares it with hub users (they see your files and "
        "kernels and run code as you), `--session` alone lists them, `--session --revoke USER` ends it. "
        "Folders shared live (under a hub): `cygnet share folder|folders|folder-revoke|folder-stop`.",
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

    live = commands.add_parser(
        "folder",
        help="share a workspace folder live with hub users (they work in it, not in a copy)",
        description="Under a hub: named users work in the folder itself from their own sessions (it "
        "appears in their shared/<you>/), read-write or, with --read-only, read-only. Run again to let more in.",
    )
    live.add_argument("path", help="the folder, in the workspace")
    live.add_argument("--user", action="append", required=True, help="a hub user to share it with (repeatable)")
    live.add_argument("--read-only", action="store_true", help="they may read, not change")
    live.set_defaults(func=folder_command)
    folders = commands.add_parser("folders", help="folders shared live: yours, and those shared with you")
    folders.set_defaults(func=folders_command)
    cut = commands.add_parser("folder-revoke", help="cut one user off a folder you share live (at once)")
    cut.add_argument("id", help="the folder's id (from `cygnet share folders`)")
    cut.add_argument("user", help="the user to cut off")
    cut.set_defaults(func=folder_revoke_command)
    stop = commands.add_parser("folder-stop", help="stop sharing a folder live: it is yours alone again")
    stop.add_argument("id", help="the folder's id (from `cygnet share folders`)")
    stop.set_defaults(func=folder_stop_command)

    for sub in commands.choices.values():
        if sub.get_default("func") in (folder_command, folders_command, folder_revoke_command, folder_stop_command):
            sub.add_argument("--workspace", help="the workspace folder (default: this session's)")
        else:
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


def _live(args, config):
    """This session's live folders (cygnet.shares.live_folders), through the hub's share service."""
    from cygnet.core import contract
    from cygnet.core.errors import Unavailable

    from .live_folders import LiveFolders
    from .store import open_share_store

    workspace = os.path.abspath(args.workspace or contract.WORKSPACE.get() or ".")
    store = open_share_store(config, workspace)
    if not hasattr(store, "folders"):
        raise Unavailable("live shared folders need the hub's share service (run this in a session the hub started)")
    return LiveFolders(store, workspace, config.data_dir, os.environ.get("JUPYTERHUB_USER", "")), workspace


def folder_command(args, config_argv):
    from cygnet.core.paths import from_shell

    live, workspace = _live(args, load_config(config_argv))
    path = from_shell(args.path, workspace)
    mode = "ro" if args.read_only else "rw"
    mine = next((f for f in live.sync()["folders"] if f["path"] == path and f["state"] == "shared"), None)
    if mine is None:
        folder = live.share(path, args.user, mode)
    else:
        for user in args.user:
            folder = live.grant(mine["id"], user, mode)
    if args.json:
        print(json.dumps(folder, indent=2))
        return 0
    print(f"{folder['path']} is shared live ({folder['id']}) with {_members(folder)}")
    print("they find it in shared/ of their workspace; cut one off with `cygnet share folder-revoke ID USER`")
    return 0


def folders_command(args, config_argv):
    live, _ = _live(args, load_config(config_argv))
    listing = live.sync()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    if not listing["available"]:
        print(listing["why"])
    for f in listing["folders"]:
        if f["owner"] == os.environ.get("JUPYTERHUB_USER"):
            print(
                f"{f['id']}  {f['path']}  yours, with {_members(f)}" + ("  (closing)" if f["state"] != "shared" else "")
            )
        else:
            print(f"{f['id']}  shared/{f['owner']}/{f['name']}  from {f['owner']}")
    if not listing["folders"]:
        print("no folder is shared live with you or by you")
    return 0


def folder_revoke_command(args, config_argv):
    live, _ = _live(args, load_config(config_argv))
    folder = live.revoke(args.id, args.user)
    print(json.dumps(folder, indent=2) if args.json else f"{args.user} can no longer enter {folder['path']}")
    return 0


def folder_stop_command(args, config_argv):
    live, _ = _live(args, load_config(config_argv))
    path = live.stop(args.id)
    print(json.dumps({"id": args.id, "path": path}) if args.json else f"no longer shared; the folder is at {path}")
    return 0


def _members(folder):
    members = folder["members"]
    return ", ".join(f"{u} (read-only)" if m == "ro" else u for u, m in sorted(members.items())) or "nobody"


def _when(timestamp):
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
