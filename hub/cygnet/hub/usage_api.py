"""POST /hub/api/users/<name>/cygnet-usage: a session reports what it ran beyond its own cores
(Spark executors on a cluster, batch runs on a scheduler) to the hub's usage ledger
(cygnet.hub.usage). Each session's own token may report for its user only: the scope is
`users:activity` on that user, which JupyterHub gives every session token to report activity.

Body: {"server": "<named server or ''>", "entries": [{"ref", "kind", "cores", "started",
"ended", "detail"}]}; a `ref` names one thing within the session (a second report of it updates
the row). What the session says is taken as said, within bounds: its user's own rows only, times
no later than now, no more than MAX_AGE back. It is bookkeeping for soft quotas, not billing.
"""

import json
import time

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from .usage import UsageLedger, unix_groups

REPORTED_KINDS = ("spark", "run")
MAX_ENTRIES = 500
MAX_AGE = 40 * 24 * 3600  # a report may reach back this far (a session stopped over a long weekend)
MAX_CORES = 100_000.0
CLOCK_SLACK = 120  # a session's clock a little ahead of the hub's


def checked_entries(body, now):
    """The report's entries, each checked; ValueError naming the first fault."""
    if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
        raise ValueError("the body is {'server': name, 'entries': [...]}")
    server = body.get("server", "")
    if not isinstance(server, str) or len(server) > 255:
        raise ValueError("server is the named server's name ('' for the default one)")
    entries = body["entries"]
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries per report, not {len(entries)}")
    checked = []
    for number, entry in enumerate(entries):
        where = f"entry {number}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not an object")
        ref, kind, detail = entry.get("ref"), entry.get("kind"), entry.get("detail", "")
        if not isinstance(ref, str) or not 0 < len(ref) <= 200:
            raise ValueError(f"{where}: ref is a name of up to 200 characters")
        if kind not in REPORTED_KINDS:
            raise ValueError(f"{where}: kind is one of {', '.join(REPORTED_KINDS)}, not {kind!r}")
        if not isinstance(detail, str) or len(detail) > 200:
            raise ValueError(f"{where}: detail is a text of up to 200 characters")
        cores, started, ended = entry.get("cores"), entry.get("started"), entry.get("ended")
        if not _number(cores) or not 0 <= cores <= MAX_CORES:
            raise ValueError(f"{where}: cores is a number from 0 to {MAX_CORES:.0f}")
        if not _number(started) or not now - MAX_AGE <= started <= now + CLOCK_SLACK:
            raise ValueError(f"{where}: started is a time (seconds since the epoch) within the last 40 days")
        if ended is not None and (not _number(ended) or not started <= ended <= now + CLOCK_SLACK):
            raise ValueError(f"{where}: ended is null or a time between started and now")
        checked.append({"ref": ref, "kind": kind, "cores": cores, "started": started, "ended": ended, "detail": detail})
    return server, checked


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


class UsageReportHandler(APIHandler):
    route = r"/api/users/([^/]+)/cygnet-usage"

    def initialize(self, ledger):
        self.ledger_path = ledger

    @needs_scope("users:activity")
    def post(self, user_name):
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"no user {user_name}")
        try:
            server, entries = checked_entries(self.get_json_body(), time.time())
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        groups = {g.name for g in user.groups} | unix_groups(user.name)
        ledger = UsageLedger(self.ledger_path)
        try:
            for entry in entries:
                # The user's name and server in the ref: one user's report never touches another's rows.
                ref = f"session/{user.name}/{server}/{entry.pop('ref')}"
                ledger.record(ref, user.name, groups, server=server, **entry)
        finally:
            ledger.close()
        self.finish(json.dumps({"recorded": len(entries)}))
