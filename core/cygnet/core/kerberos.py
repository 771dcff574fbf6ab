"""A user's Kerberos ticket, in a credential cache of Cygnet's own (a 0600 file in the user's data
dir, never the account's shared /tmp/krb5cc_<uid>), through MIT Kerberos' own commands: status,
authenticate with a password (on kinit's stdin: never on a command line, never logged, never
kept) or a keytab, renew, destroy. Realms and KDCs come from the system's Kerberos configuration
(/etc/krb5.conf or $KRB5_CONFIG), as for every Kerberos client. Failures name the cause in the
user's words."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass

from . import checks
from .errors import BadInput, CygnetError, Expired, NotAuthenticated, NotFound, Unavailable
from .proc import run_bounded

TIMEOUT = 30.0  # seconds for any Kerberos command (an unreachable KDC is tried for a while)


@dataclass
class Ticket:
    principal: str | None  # None: no valid ticket
    expires: float | None
    renew_until: float | None
    ccache: str

    def to_dict(self) -> dict:
        return asdict(self)


def available() -> bool:
    """Whether this machine does Kerberos: MIT's kinit, and a configuration naming realms."""
    import shutil

    files = os.environ.get("KRB5_CONFIG") or "/etc/krb5.conf"
    return shutil.which("kinit") is not None and any(os.path.isfile(f) for f in files.split(":"))


def ccache_of(data_dir: str) -> str:
    """The user's credential cache (as KRB5CCNAME names it): a file in their data dir."""
    folder = os.path.join(data_dir, "kerberos")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return "FILE:" + os.path.join(folder, "krb5cc")


def install(ccache: str, data: bytes) -> Ticket:
    """Make `data` (a credential cache handed over, e.g. from the hub's login) the user's cache:
    written whole (0600) in place of any older one."""
    from .atomic import atomic_write

    atomic_write(ccache.removeprefix("FILE:"), data, mode=0o600)
    return status(ccache)


def status(ccache: str) -> Ticket:
    """The ticket in `ccache`: its principal, expiry and renewal limit, or principal None."""
    result = _run(["klist", "-c", ccache], "klist")
    if result.returncode != 0:
        return Ticket(None, None, None, ccache)
    text = result.stdout.decode(errors="replace")
    principal = _match(r"^Default principal:\s*(\S+)", text)
    expires = renew_until = None
    for line in text.splitlines():
        if "krbtgt/" in line:  # the ticket-granting ticket: "start  expires  krbtgt/REALM@REALM"
            stamps = re.findall(r"\d\d/\d\d/\d\d(?:\d\d)? \d\d:\d\d:\d\d", line)
            expires = _when(stamps[1]) if len(stamps) > 1 else None
        elif expires is not None and renew_until is None and "renew until" in line:
            renew_until = _when(line.split("renew until", 1)[1].strip())
    if expires is not None and expires <= time.time():
        return Ticket(None, None, None, ccache)  # an expired ticket is no ticket
    return Ticket(principal, expires, renew_until, ccache)


def kinit_password(principal: str, password: str, ccache: str, lifetime: str | None = None) -> Ticket:
    principal = str(checks.text(principal, "principal", max_length=256))
    if not isinstance(password, str) or not password:
        raise BadInput("password is required")
    cmd = ["kinit", "-c", ccache, *(["-l", lifetime] if lifetime else []), principal]
    _check(_run(cmd, "kinit", (password + "\n").encode()), principal)
    return status(ccache)


def kinit_keytab(principal: str, keytab: str, ccache: str) -> Ticket:
    principal = str(checks.text(principal, "principal", max_length=256))
    if not os.path.isfile(keytab):
        raise NotFound(f"no keytab at {keytab}")
    _check(_run(["kinit", "-k", "-t", keytab, "-c", ccache, principal], "kinit"), principal)
    return status(ccache)


def renew(ccache: str) -> Ticket:
    """Renew the ticket (kinit -R), before it expires; Expired when it cannot be."""
    current = status(ccache)
    if current.principal is None:
        raise Expired("there is no valid ticket to renew: authenticate again")
    if current.renew_until is None or current.renew_until <= time.time():  # kinit -R would "succeed"
        raise Expired(f"the ticket of {current.principal} is not renewable: log in again")
    _check(_run(["kinit", "-R", "-c", ccache], "kinit -R"), current.principal)
    return status(ccache)


def destroy(ccache: str) -> None:
    _run(["kdestroy", "-q", "-c", ccache], "kdestroy")  # no ticket: nothing to do, no error


HOW_TO_AUTHENTICATE = "authenticate with `cygnet kerberos init` or the Kerberos item in JupyterLab's status bar"


def refused(what: str, ccache: str | None = None) -> NotAuthenticated:
    """The error for a service that wants Kerberos and refused this session: it names whether
    there is no ticket, or whose ticket was refused, and how to get one."""
    ccache = ccache or os.environ.get("KRB5CCNAME")
    try:
        ticket = status(ccache) if ccache else None
    except CygnetError:
        ticket = None
    if ticket is None or ticket.principal is None:
        return NotAuthenticated(f"{what} needs Kerberos and there is no valid ticket: {HOW_TO_AUTHENTICATE}")
    return NotAuthenticated(f"{what} refused the Kerberos ticket of {ticket.principal}")


def _run(cmd: list[str], what: str, secret: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LC_ALL": "C"}  # messages and dates in the form parsed here
    return run_bounded(cmd, timeout=TIMEOUT, what=what, input=secret, env=env)


_CAUSES = [
    ("Password incorrect", BadInput, "wrong password for {p}"),
    ("Preauthentication failed", BadInput, "wrong password for {p}"),
    ("not found in Kerberos database", NotFound, "unknown principal {p}"),
    ("Cannot contact any KDC", Unavailable, "the KDC of {realm} cannot be reached"),
    ("Cannot find KDC", Unavailable, "no KDC is known for {realm} (see the Kerberos configuration)"),
    ("Clock skew too great", Unavailable, "this machine's clock and the KDC's differ too much"),
    ("Key table entry not found", NotFound, "the keytab has no key for {p}"),
    ("can't fulfill requested option while renewing", Expired, "the ticket of {p} is not renewable: log in again"),
    ("Ticket expired while renewing", Expired, "the ticket of {p} can no longer be renewed: log in again"),
]


def _check(result: subprocess.CompletedProcess, principal: str) -> None:
    if result.returncode == 0:
        return
    text = result.stderr.decode(errors="replace")
    named = _match(r"realm '([^']+)'", text)
    realm = named or (principal.split("@", 1)[1] if "@" in principal else "the default realm")
    for words, error, message in _CAUSES:
        if words in text:
            raise error(message.format(p=principal, realm=realm))
    reason = text.strip().splitlines()[-1] if text.strip() else "no reason given"
    raise CygnetError(f"Kerberos refused {principal}: {reason}")


def _match(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, re.MULTILINE)
    return found.group(1) if found else None


def _when(stamp: str) -> float | None:
    for form in ("%m/%d/%y %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
        try:
            return time.mktime(time.strptime(stamp, form))
        except ValueError:
            continue
    return None
