"""`cygnet kerberos status|init|renew|destroy`: your Kerberos ticket from a terminal, in the same
credential cache the service's API and kernels use."""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import sys

from .config import load_config
from .identity import current_user
from .kerberos import Ticket


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("kerberos", help="your Kerberos ticket: status, init, renew, destroy")
    commands = p.add_subparsers(dest="kerberos_command", required=True, metavar="COMMAND")
    status = commands.add_parser("status", help="your ticket (exit 3 without one)")
    status.add_argument("--json", action="store_true", help="print JSON")
    init = commands.add_parser(
        "init", help="authenticate: the password is read from the terminal (or stdin), never an argument"
    )
    init.add_argument("principal", nargs="?", help="default: you, in the default realm")
    init.add_argument("--keytab", help="a keytab instead of a password (service accounts)")
    commands.add_parser("renew", help="renew the ticket before it expires")
    commands.add_parser("destroy", help="forget the ticket")
    p.set_defaults(func=kerberos_command)


def kerberos_command(args: argparse.Namespace, config_argv: list[str]) -> int:
    from . import kerberos

    ccache = kerberos.ccache_of(load_config(config_argv).data_dir)
    if args.kerberos_command == "status":
        ticket = kerberos.status(ccache)
        print(json.dumps(ticket.to_dict(), indent=2) if args.json else describe(ticket))
        return 0 if ticket.principal else 3
    if args.kerberos_command == "init":
        principal = args.principal or current_user()
        if args.keytab:
            ticket = kerberos.kinit_keytab(principal, args.keytab, ccache)
        else:
            password = getpass.getpass(f"Password for {principal}: ") if sys.stdin.isatty() else sys.stdin.readline()
            ticket = kerberos.kinit_password(principal, password.rstrip("\n"), ccache)
    elif args.kerberos_command == "renew":
        ticket = kerberos.renew(ccache)
    else:
        kerberos.destroy(ccache)
        print("no ticket")
        return 0
    print(describe(ticket))
    return 0


def describe(ticket: Ticket) -> str:
    if not ticket.principal:
        return f"no ticket (cache {ticket.ccache})"
    text = f"{ticket.principal}, valid until {_when(ticket.expires)}"
    if ticket.renew_until and ticket.renew_until > (ticket.expires or 0):
        text += f", renewable until {_when(ticket.renew_until)}"
    return text


def _when(stamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M") if stamp else "?"
