"""The one exception family of Cygnet, and how each face reports it.

Cores raise these with a message written for the user; the REST layer turns them into HTTP
statuses, the CLI into exit codes, the kernel side into a short error display.
"""


class CygnetError(Exception):
    """A failure whose message is meant for the user; the base of the family."""

    http_status = 500
    exit_code = 1


class BadInput(CygnetError):
    """The request itself is wrong: a malformed name, option or path."""

    http_status = 400
    exit_code = 2


class NotFound(CygnetError):
    """The thing asked for does not exist."""

    http_status = 404
    exit_code = 3


class Unavailable(CygnetError):
    """The thing exists but cannot be used now: a broken view, a server that is down."""

    http_status = 503
    exit_code = 4


class MissingTool(Unavailable):
    """A program Cygnet drives is not installed on this machine (a scheduler's `condor_submit` or
    `kubectl`): the message names it and what it is for, so the site knows what to install."""


class NotAuthenticated(Unavailable):
    """A service behind Cygnet (EOS, a WebDAV box, a token service) wants credentials this session
    does not have: a Kerberos ticket, most often. The message says how to get them."""

    http_status = 403


class Expired(CygnetError):
    """The thing existed but its time is over: an expired share link."""

    http_status = 410
    exit_code = 3


class TooBusy(CygnetError):
    """Too much of this kind of work is under way for this user: try again when some ends."""

    http_status = 429
    exit_code = 4


def as_http_error(exc: BaseException) -> Exception:
    """The tornado HTTPError that reports `exc` to a REST client: jupyter_server's API handlers
    send an HTTPError's message to the client, and hide any other exception as 'Unhandled error'."""
    from tornado.web import HTTPError  # server side only; kernel-side code never calls this

    status = exc.http_status if isinstance(exc, CygnetError) else 500
    return HTTPError(status, str(exc))
