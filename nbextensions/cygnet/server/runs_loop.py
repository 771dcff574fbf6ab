"""The session's runner of schedules and notifications (the embedded runner): it fires this
user's due schedules, hands runs that ended to the notifications and delivers what is due
(cygnet.runs.scheduler, cygnet.runs.notify), every `Cygnet.runs_check_every` seconds and, when a
schedule's next slot comes sooner, at that slot. One step at a time: a slow mail server delays
the next step, never doubles it. Under a hub, each step ends by telling the hub's runs service
when this session next has work (cygnet.runs.wake), so a stopped session is started for it."""

import asyncio
import os
import time
from urllib.parse import quote

from tornado.ioloop import IOLoop

from cygnet.core.errors import CygnetError
from cygnet.runs.notify import Notifier, Outbox
from cygnet.runs.scheduler import tick
from cygnet.runs.wake import WakeClient

from .handlers import hub_redirect_path

EARLIEST = 0.05  # seconds: the soonest the next step comes after one ends


def start(app, serverapp):
    runs = app.runs
    app.schedules_outbox = Outbox(runs.dir / "runs.db")
    base = _link_base(app.cygnet, serverapp)
    app.notifier = Notifier(
        app.schedules_outbox,
        runs.settings.mail,
        runs.settings.check_url,
        link_for=lambda run: f"{base}lab/tree/{quote(run.output)}",
        log=serverapp.log,
    )
    app.runs_wake = None
    if app.cygnet.runs_service_url:
        try:
            app.runs_wake = WakeClient(app.cygnet.runs_service_url, os.environ.get("JUPYTERHUB_API_TOKEN", ""))
        except CygnetError as e:
            serverapp.log.warning("cygnet: stopped sessions will not be started for their schedules: %s", e)
    if app.cygnet.runs_check_every <= 0:
        return None  # the site turned it off
    return IOLoop.current().call_later(EARLIEST, lambda: asyncio.ensure_future(step(app)))


def run_once(app):
    """One step, in a worker thread: fire, collect, deliver; the next slot to come (or None)."""
    owners = {app.runs.owner}
    fired = tick(app.schedules.store, lambda owner: app.runs, owners=owners, log=app.log)
    app.notifier.collect(app.runs.store, lambda owner: app.runs, owners=owners)
    app.notifier.deliver(owners=owners)
    slots = [s.next_slot for s in app.schedules.list() if not s.paused and s.next_slot is not None]
    upcoming = min(slots, default=None)
    if app.runs_wake:
        retry = app.schedules_outbox.next_try(owners)
        tell_the_hub(app, min((t for t in (upcoming, retry) if t is not None), default=None))
    return fired, upcoming


def tell_the_hub(app, next_time):
    """Tell the runs service; a failure is said once (not at every step) and tried again."""
    try:
        app.runs_wake.tell(next_time)
        app.runs_wake_error = ""
    except CygnetError as e:
        if str(e) != getattr(app, "runs_wake_error", ""):
            app.log.warning("cygnet: %s; tried again at each check", e)
        app.runs_wake_error = str(e)


async def step(app):
    period = app.cygnet.runs_check_every
    upcoming = None
    try:
        fired, upcoming = await app.work.quick(run_once, app, timeout=600)
        for schedule_id, slot, what in fired:
            app.log.info("cygnet: schedule %s, slot %.0f: %s", schedule_id, slot, what)
    except CygnetError as e:
        app.log.warning("cygnet: the check of schedules and notifications failed: %s", e)
    except Exception:  # noqa: BLE001 - the loop must go on; the traceback says what broke
        app.log.exception("cygnet: the check of schedules and notifications failed")
    delay = period if upcoming is None else min(period, max(EARLIEST, upcoming - time.time()))
    app.runs_loop = IOLoop.current().call_later(delay, lambda: asyncio.ensure_future(step(app)))


def _link_base(config, serverapp):
    if config.link_base_url:
        return config.link_base_url.rstrip("/") + "/"
    hub = hub_redirect_path()
    if hub:
        public = os.environ.get("JUPYTERHUB_PUBLIC_URL", "").rstrip("/")
        return f"{public}{hub}"
    return serverapp.connection_url.rstrip("/") + "/"
