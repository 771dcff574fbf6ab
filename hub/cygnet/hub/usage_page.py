"""/hub/cygnet-usage: the usage ledger for the hub's admins (cygnet.hub.usage). HTML by default,
`?format=json` or `?format=csv`; `?since=YYYY-MM-DD` (default: the start of this month),
`?until=`, `?group=`, `?user=`, `?by=group|user` (default group). Others get 403."""

import html
import json
import time
from datetime import UTC

from jupyterhub.handlers import BaseHandler
from tornado import web

from .usage import KIND_TOTALS, UsageLedger, as_csv, month_start

# Each kind's column once (the Dask scheduler's and workers' share one), in the ledger's order.
KIND_COLUMNS = tuple(dict.fromkeys(KIND_TOTALS.values()))
FIELDS = ("name", "core_hours", "gpu_hours", "sessions", *KIND_COLUMNS)


def parse_day(text, what):
    """'YYYY-MM-DD' (UTC) as seconds since the epoch; a clear error otherwise."""
    from datetime import datetime

    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"{what} is a day, YYYY-MM-DD, not {text!r}") from None


def report(ledger, since, until, by="group", group=None, user=None):
    return {
        "since": since,
        "until": until,
        "by": by,
        "totals": ledger.totals(by, since, until, group=group or None, user=user or None),
    }


def render_html(data):
    def when(seconds):
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))

    rows = "".join(
        f"<tr><td>{html.escape(t['name'] or '(no group)')}</td><td>{t['core_hours']:.2f}</td>"
        f"<td>{t['gpu_hours']:.2f}</td><td>{t['sessions']}</td>"
        + "".join(f"<td>{t[column]:.2f}</td>" for column in KIND_COLUMNS)
        + "</tr>"
        for t in data["totals"]
    )
    by = html.escape(data["by"])
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Cygnet usage</title></head><body>"
        f"<h1>Usage by {by}</h1><p>From {when(data['since'])} to {when(data['until'])}: core-hours and "
        "GPU-hours of sessions, gateway Dask clusters, Spark executors on clusters and batch runs on "
        "schedulers (what still runs counts up to now).</p>"
        f"<table border='1' cellpadding='4'><tr><th>{by}</th><th>core-hours</th><th>GPU-hours</th>"
        f"<th>sessions</th><th>of which sessions</th><th>Dask</th><th>Spark</th><th>runs</th></tr>{rows}</table>"
        "<p>Also as <a href='?format=json'>JSON</a> and <a href='?format=csv'>CSV</a>; "
        "<code>?since=YYYY-MM-DD&amp;by=user&amp;group=NAME</code>.</p></body></html>"
    )


class UsagePage(BaseHandler):
    route = r"/cygnet-usage"

    def initialize(self, ledger):
        self.ledger_path = ledger

    @web.authenticated
    def get(self):
        user = self.current_user
        if not getattr(user, "admin", False):
            raise web.HTTPError(403, "the usage ledger is for the hub's admins")
        try:
            since = parse_day(self.get_argument("since"), "since") if self.get_argument("since", "") else month_start()
            until = parse_day(self.get_argument("until"), "until") if self.get_argument("until", "") else time.time()
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        by = self.get_argument("by", "group")
        if by not in ("group", "user"):
            raise web.HTTPError(400, f"by is group or user, not {by!r}")
        ledger = UsageLedger(self.ledger_path)
        try:
            data = report(ledger, since, until, by, self.get_argument("group", ""), self.get_argument("user", ""))
        finally:
            ledger.close()
        fmt = self.get_argument("format", "html")
        if fmt == "json":
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(data))
        elif fmt == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.finish(as_csv(data["totals"], FIELDS))
        else:
            self.set_header("Content-Security-Policy", "default-src 'none'")
            self.finish(render_html(data))
