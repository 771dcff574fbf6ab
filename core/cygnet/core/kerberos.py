"""A user's Kerberos ticket, in a credential cache of Cygnet's own (a 0600 file in the user's data
dir, never the account's shared /tmp/krb5cc_<uid>), through MIT's libkrb5 (the `krb5` bindings,
in process, so a password never leaves this process's memory: no command line, no pipe, no
file, no log): status, authenticate with a password or a keytab, renew, destroy. Realms and
KDCs come from the system's Kerberos configuration (/etc/krb5.conf or $KRB5_CONFIG), as for
every Kerberos client. Failures name the cause in the user's words."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import checks
from .errors import BadInput, CygnetError, Expired, NotAuthenticated, NotFound, Unavailable
from .proc import run_bounded

TIMEOUT = 30.0  # seconds for klist (a kernel whose view has no bindings) and kdestroy


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


def file_of(ccache: str) -> str | None:
    """The file of a FILE: credential cache (Cygnet's own kind); None for KCM:, KEYRING:, ..."""
    return ccache[len("FILE:") :] if ccache.startswith("FILE:") else None


def install(ccache: str, data: bytes) -> Ticket:
    """Make `data` (a credential cache handed over, e.g. from the hub's login) the user's cache:
    written whole (0600) in place of any older one."""
    from .atomic import atomic_write

    atomic_write(file_of(ccache) or ccache, data, mode=0o600)
    return status(ccache)


def status(ccache: str) -> Ticket:
    """The ticket in `ccache`: its principal, expiry and renewal limit, or principal None."""
    krb5 = _library(required=False)
    if krb5 is None:  # a kernel in a view without the bindings: MIT's klist
        return _status_from_klist(ccache)
    context = krb5.init_context()
    try:
        cache = krb5.cc_resolve(context, ccache.encode())
        principal = str(krb5.cc_get_principal(context, cache))
        tgt = next((c for c in cache if str(c.server).startswith("krbtgt/")), None)
    except krb5.Krb5Error:  # no cache, an empty or unreadable one: no ticket
        return Ticket(None, None, None, ccache)
    if tgt is None or tgt.times.endtime <= time.time():  # an expired ticket is no ticket
        return Ticket(None, None, None, ccache)
    renew_until = tgt.times.renew_till or None
    return Ticket(principal, float(tgt.times.endtime), float(renew_until) if renew_until else None, ccache)


def kinit_password(principal: str, password: str, ccache: str, lifetime: int | None = None) -> Ticket:
    """A ticket for `principal` from its password (in this process's memory only: never on a
    command line, in a file or a log); `lifetime` in seconds, else the configuration's."""
    principal = str(checks.text(principal, "principal", max_length=256))
    if not isinstance(password, str) or not password:
        raise BadInput("password is required")
    secret = password.encode()
    return _initial(principal, ccache, lifetime, lambda krb5, *a: krb5.get_init_creds_password(*a, password=secret))


def kinit_keytab(principal: str, keytab: str, ccache: str) -> Ticket:
    principal = str(checks.text(principal, "principal", max_length=256))
    if not os.path.isfile(keytab):
        raise NotFound(f"no keytab at {keytab}")

    def get(krb5: Any, context: Any, client: Any, options: Any) -> Any:
        table = krb5.kt_resolve(context, f"FILE:{os.path.abspath(keytab)}".encode())
        return krb5.get_init_creds_keytab(context, client, options, keytab=table)

    return _initial(principal, ccache, None, get)


def renew(ccache: str) -> Ticket:
    """Renew the ticket (as kinit -R does), before it expires; Expired when it cannot be."""
    current = status(ccache)
    if current.principal is None:
        raise Expired("there is no valid ticket to renew: authenticate again")
    if current.renew_until is None or current.renew_until <= time.time():
        raise Expired(f"the ticket of {current.principal} is not renewable: log in again")
    krb5 = _library()
    context = krb5.init_context()
    try:
        cache = krb5.cc_resolve(context, ccache.encode())
        client = krb5.cc_get_principal(context, cache)
        _store(krb5, context, ccache, client, krb5.get_renewed_creds(context, client, cache))
    except krb5.Krb5Error as e:
        raise _refusal(str(e), current.principal) from None
    return status(ccache)


def destroy(ccache: str) -> None:
    """Forget the ticket; no ticket: nothing to do, no error. (Not the bindings' cc_destroy: its
    cache object would release the freed handle again.)"""
    path = file_of(ccache)
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    run_bounded(["kdestroy", "-q", "-c", ccache], timeout=TIMEOUT, what="kdestroy")


PRINCIPAL = re.compile(r"^[^@\s/]+(/[^@\s/]+)*(@[^@\s]+)?$")


def _initial(principal: str, ccache: str, lifetime: int | None, get: Callable[..., Any]) -> Ticket:
    """Ask the KDC for an initial ticket (`get` gives the password or keytab) and store it."""
    if not PRINCIPAL.match(principal):
        raise BadInput(f"{principal} is not a Kerberos principal name (user or user@REALM)")
    krb5 = _library()
    context = krb5.init_context()
    try:
        client = krb5.parse_name_flags(context, principal.encode())
        options = krb5.get_init_creds_opt_alloc(context)
        if lifetime:
            krb5.get_init_creds_opt_set_tkt_life(options, int(lifetime))
        _store(krb5, context, ccache, client, get(krb5, context, client, options))
    except krb5.Krb5Error as e:
        raise _refusal(str(e), principal) from None
    return status(ccache)


def _store(krb5: Any, context: Any, ccache: str, client: Any, creds: Any) -> None:
    """Write the cache whole: a FILE cache is made beside the old one and renamed over it, so a
    kernel reading it meanwhile sees the old ticket or the new one, never an empty cache."""
    path = file_of(ccache)
    if path is None:  # KCM:, KEYRING:: the cache service is atomic itself
        cache = krb5.cc_resolve(context, ccache.encode())
        krb5.cc_initialize(context, cache, client)
        krb5.cc_store_cred(context, cache, creds)
        return
    fresh = f"{path}.new-{os.getpid()}-{time.monotonic_ns()}"
    try:
        cache = krb5.cc_resolve(context, f"FILE:{fresh}".encode())
        krb5.cc_initialize(context, cache, client)  # libkrb5 makes it 0600
        krb5.cc_store_cred(context, cache, creds)
        os.replace(fresh, path)
    finally:
        if os.path.exists(fresh):
            os.unlink(fresh)


def _library(required: bool = True) -> Any:
    """MIT's libkrb5 through the `krb5` bindings (installed with requests-kerberos)."""
    try:
        import krb5
    except ImportError:
        if required:
            raise Unavailable("Kerberos bindings are missing here (pip install krb5)") from None
        return None
    return krb5


def _status_from_klist(ccache: str) -> Ticket:
    result = run_bounded(["klist", "-c", ccache], timeout=TIMEOUT, what="klist", env={**os.environ, "LC_ALL": "C"})
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
    if expires is None or expires <= time.time():
        return Ticket(None, None, None, ccache)
    return Ticket(principal, expires, renew_until, ccache)


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


# What a user can cause, in their words. A principal without pre-authentication (MIT's default
# for addprinc) answers a wrong password with the client failing to decrypt the KDC's reply.
_CAUSES = [
    ("Password incorrect", BadInput, "wrong password for {p}"),
    ("Preauthentication failed", BadInput, "wrong password for {p}"),
    ("Decrypt integrity check failed", BadInput, "wrong password for {p}"),
    ("not found in Kerberos database", NotFound, "unknown principal {p}"),
    ("Malformed representation of principal", BadInput, "{p} is not a Kerberos principal name (user or user@REALM)"),
    ("does not specify default realm", BadInput, "give {p} with its realm (user@REALM): this machine has no default"),
    ("Password has expired", NotAuthenticated, "the password of {p} has expired: change it, then log in again"),
    ("entry in database has expired", NotAuthenticated, "the account of {p} has expired: ask the site's admins"),
    ("credentials have been revoked", NotAuthenticated, "the account of {p} is locked or disabled"),
    ("KDC policy rejects request", NotAuthenticated, "the KDC does not give {p} tickets (account disabled?)"),
    ("Cannot contact any KDC", Unavailable, "the KDC of {realm} cannot be reached"),
    ("Cannot find KDC", Unavailable, "no KDC is known for {realm} (see the Kerberos configuration)"),
    ("Clock skew too great", Unavailable, "this machine's clock and the KDC's differ too much"),
    ("Key table entry not found", NotFound, "the keytab has no key for {p}"),
    ("can't fulfill requested option while renewing", Expired, "the ticket of {p} is not renewable: log in again"),
    ("Ticket expired while renewing", Expired, "the ticket of {p} can no longer be renewed: log in again"),
]


def _refusal(text: str, principal: str) -> CygnetError:
    """The library's message, in the user's words."""
    named = _match(r"realm '([^']+)'", text)
    realm = named or (principal.split("@", 1)[1] if "@" in principal else "the default realm")
    for words, error, message in _CAUSES:
        if words in text:
            return error(message.format(p=principal, realm=realm))
    reason = text.strip().splitlines()[-1] if text.strip() else "no reason given"
    return CygnetError(f"Kerberos refused {principal}: {reason}")


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
