"""`cygnet-runs`: the hub service that keeps schedules firing while their owners' sessions are
stopped (culled, logged out, or never started since the hub restarted).

A run must execute as its owner, with their view, workspace and Kerberos ticket, and its
record, results and webhook secrets must stay private to their account. So runs and schedules
stay where `cygnet up` keeps them (the user's runs.db, fired by the session's own runner,
cygnet.server.runs_loop): one code path. What the hub adds is a wake-up. After each of its
steps a session tells this service when it next has work (its next schedule slot, or a
notification to retry): `PUT api/wake {"next": EPOCH}` with the session's own hub token. When
that time comes within `lead` seconds and the owner's session is not running, the service
starts it through the hub's REST API with the owner's last choices (a short-lived session of
theirs, which the culler stops again once it is idle); the session's runner then fires the slot
on time. The service never sees a notebook, a record or a secret, and runs nothing itself.

State: one SQLite table (user, next, the `next` it last woke for), so a restart of the service
(kill -9 included) loses no wake-up and repeats none.
"""

import json
import logging
import os
import sys
import threading
import time
from urllib.parse import quote, urlsplit

import requests
from tornado import ioloop, web

from cygnet.core import contract
from cygnet.runs.store import Database
from cygnet.server.log_scrub import ScrubSecrets

from . import service_metrics
from .service_api import ServiceApiHandler
from .signals import stop_on_signals

log = logging.getLogger("cygnet.runs")
START_TIMEOUT = 60  # seconds the hub may take to answer a start (longer than its slow_spawn_timeout)

SCHEMA = """
CREATE TABLE IF NOT EXISTS wakes (
    user TEXT PRIMARY KEY,
    next REAL NOT NULL,
    woken_for REAL NOT NULL DEFAULT 0,   -- the `next` the session was last started for
    look_again REAL NOT NULL DEFAULT 0,  -- when to look again if the session has not said more since
    note TEXT NOT NULL DEFAULT ''
);
"""
LATEST = 366 * 86400  # a wake-up further ahead than this is refused (a schedule fires within a year)
RETRY_AFTER = 60  # seconds before a start the hub refused is tried again
LOOK_AGAIN = 300  # seconds after a wake-up with no word from the session: is it still up?
LOOK_SOON = 5  # the most often a running session with work coming is looked at


class WakeStore(Database):
    def __init__(self, path):
        super().__init__(path, SCHEMA)

    def set(self, user, next_time):
        """`user`'s next wake-up (None: nothing to wake for)."""
        with self._write() as db:
            if next_time is None:
                db.execute("DELETE FROM wakes WHERE user = ?", (user,))
            else:
                db.execute(
                    "INSERT INTO wakes (user, next) VALUES (?, ?) ON CONFLICT(user) DO UPDATE SET next = excluded.next",
                    (user, next_time),
                )

    def get(self, user):
        with self._connect() as db:
            row = db.execute("SELECT next, woken_for, note FROM wakes WHERE user = ?", (user,)).fetchone()
        return None if row is None else {"next": row[0], "woken_for": row[1] or None, "note": row[2]}

    def due(self, until, now):
        """[(user, next)] due by `until` and not yet woken for; or woken for, but the session has
        said nothing since (a spawn that failed after the hub took it, a session stopped again)."""
        with self._connect() as db:
            return db.execute(
                "SELECT user, next FROM wakes WHERE next <= ? AND (woken_for != next OR look_again <= ?)",
                (until, now),
            ).fetchall()

    def woken(self, user, next_time, note, look_again):
        with self._write() as db:
            db.execute(
                "UPDATE wakes SET woken_for = ?, look_again = ?, note = ? WHERE user = ? AND next = ?",
                (next_time, look_again, note, user, next_time),
            )

    def later(self, user, next_time, note):
        """A start that failed: try again in RETRY_AFTER seconds, saying why meanwhile."""
        with self._write() as db:
            db.execute(
                "UPDATE wakes SET next = ?, note = ? WHERE user = ? AND next = ?",
                (time.time() + RETRY_AFTER, note, user, next_time),
            )


class Hub:
    """The hub's REST API, as this service (its token has the scopes setup.add_runs_service gives)."""

    def __init__(self, api_url, token, timeout=10):
        self.api_url = api_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def server_running(self, user):
        """Whether `user`'s default server runs or is starting (True), or is stopped (False);
        LookupError when the hub has no such user any more."""
        r = self.http.get(f"{self.api_url}/users/{quote(user)}", timeout=self.timeout)
        if r.status_code == 404:
            raise LookupError(user)
        r.raise_for_status()
        server = r.json().get("servers", {}).get("")
        return bool(server and (server.get("ready") or server.get("pending") == "spawn"))

    def start_server(self, user):
        """Start `user`'s default server with their last choices (no body: the hub reuses them)."""
        # The hub answers a start only when the spawn is done or after its slow_spawn_timeout (10 s
        # by default): a client timeout of the same length failed starts that were under way.
        r = self.http.post(f"{self.api_url}/users/{quote(user)}/server", timeout=max(self.timeout, START_TIMEOUT))
        if r.status_code not in (201, 202, 400):
            r.raise_for_status()
        if r.status_code == 400 and "pending" not in r.text and "already" not in r.text:
            raise RuntimeError(f"the hub refused to start the session: {_message(r)}")


def wake_due(store, hub, lead, now=None):
    """Start the stopped sessions that have work within `lead` seconds; [(user, what happened)]."""
    now = time.time() if now is None else now
    done = [(user, _wake(store, hub, user, next_time, now)) for user, next_time in store.due(now + lead, now)]
    for _, outcome in done:
        service_metrics.WAKES.labels(outcome).inc()
    return done


def _wake(store, hub, user, next_time, now):
    try:
        if hub.server_running(user):
            # It may still be stopped before its work comes: look again, more often as it nears.
            wait = min(LOOK_AGAIN, max(LOOK_SOON, (next_time - now) / 2))
            store.woken(user, next_time, "the session was running", now + wait)
            return "running"
        hub.start_server(user)
    except LookupError:
        log.info("%s: no longer a user of the hub; their wake-ups are dropped", user)
        store.set(user, None)
        return "gone"
    except (requests.RequestException, RuntimeError) as e:
        note = f"could not start the session for its work at {_when(next_time)}: {e}"
        log.warning("%s: %s", user, note)
        store.later(user, next_time, note)
        return "failed"
    log.info("%s: started the session for its work at %s", user, _when(next_time))
    store.woken(user, next_time, f"session started at {_when(now)}", now + LOOK_AGAIN)
    return "started"


class WakeHandler(ServiceApiHandler):
    """api/wake: GET your wake-up ({next, woken_for, note} or {next: null}); PUT {"next": EPOCH
    or null} to set it. Only a user's own token (a session's, or one with access to the
    service) sets that user's."""

    def initialize(self, store):
        self.store = store

    def prepare(self):
        if not self.current_user:
            raise web.HTTPError(403, "a hub token with access to the cygnet-runs service is needed")
        if self.current_user.get("kind", "user") != "user":
            raise web.HTTPError(403, "wake-ups belong to users: use a user's token, not a service's")

    def get(self):
        self.finish_json(self.store.get(self.current_user["name"]) or {"next": None})

    def put(self):
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):
            raise web.HTTPError(400, "the body is not valid JSON") from None
        if not isinstance(body, dict) or set(body) != {"next"}:
            raise web.HTTPError(400, 'the body is {"next": EPOCH SECONDS or null}')
        next_time = body["next"]
        if next_time is not None:
            if isinstance(next_time, bool) or not isinstance(next_time, int | float) or next_time != next_time:
                raise web.HTTPError(400, "next must be a time in seconds since the epoch, or null")
            if not 0 <= next_time <= time.time() + LATEST:
                raise web.HTTPError(400, "next must be within a year from now")
        self.store.set(self.current_user["name"], None if next_time is None else float(next_time))
        self.finish_json({"next": next_time})


class HealthHandler(web.RequestHandler):
    def get(self):
        self.finish({"status": "ok"})


def make_app(store, prefix):
    return web.Application(
        [
            (rf"{prefix}api/wake", WakeHandler, {"store": store}),
            (rf"{prefix}metrics", service_metrics.MetricsHandler),
            (rf"{prefix}(?:health)?", HealthHandler),
        ],
        xsrf_cookies=False,
        log_function=_log_request,
    )


def start_waker(store, hub, lead, every=1.0):
    """Check for due wake-ups every `every` seconds, in a daemon thread: the hub's API blocks,
    and a call under way must never hold up the service's exit (the hub stops its services
    one after the other when it stops, and waits for each)."""
    stopping = threading.Event()

    def run():
        while not stopping.wait(every):
            try:
                wake_due(store, hub, lead)
            except Exception:  # noqa: BLE001 - the loop must go on; the traceback says what broke
                log.exception("the check of wake-ups failed")

    threading.Thread(target=run, name="cygnet-runs-waker", daemon=True).start()
    return stopping


def _pending(store):
    """For the service's metrics: users with a wake-up ahead."""
    with store._connect() as db:
        (count,) = db.execute("SELECT COUNT(*) FROM wakes").fetchone()
    yield (
        "cygnet_runs_service_wake_ups",
        "Stopped or running sessions with work ahead the service watches",
        [],
        {(): count},
    )


def _message(response):
    try:
        return response.json().get("message") or response.reason
    except ValueError:
        return response.reason


def _when(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _log_request(handler):
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    log.log(level, "%d %s %.1fms", status, handler._request_summary(), 1000 * handler.request.request_time())


def main():
    """Run as the hub starts it: its address from $JUPYTERHUB_SERVICE_URL, the hub's API from
    $JUPYTERHUB_API_URL and its token, its state in $CYGNET_RUNS_WAKE_DB (set by `cygnet hub`)."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s cygnet-runs] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubSecrets())
    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/cygnet-runs/")
    store = WakeStore(os.environ[contract.RUNS_WAKE_DB.name])
    hub = Hub(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    service_metrics.register(lambda: _pending(store))
    make_app(store, prefix).listen(url.port or 80, "127.0.0.1", xheaders=True)
    start_waker(store, hub, float(contract.RUNS_WAKE_LEAD.get()))
    log.info("waking sessions for their schedules, on %s (under %s)", url.geturl(), prefix)
    stop_on_signals(log)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    sys.exit(main())
