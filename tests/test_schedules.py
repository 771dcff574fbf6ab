"""Schedules and notifications without a server: the timing rules (cron in a time zone,
intervals, start and end, the site's minimum), firing each slot once across racing tickers and
restarts, the misfire and overlap policies, and notifications delivered to a real SMTP server
(aiosmtpd) and a real webhook receiver on loopback, retried with back-off, recorded when they
never get through.

`Recorder` stands in for an owner's Runs (cygnet.runs.service) where only the tick's bookkeeping
is under test; tests/test_schedules_server.py fires real runs through a real server."""

import hashlib
import hmac
import threading
import time
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.runs.notify import BACKOFF, SIGNATURE_HEADER, Mail, Notifier, Outbox, check_notify
from cygnet.runs.scheduler import ScheduleStore, tick
from cygnet.runs.schedules import CLAIM_LEASE, MISFIRE_GRACE, check_timing, new_schedule, slot_after
from cygnet.runs.store import Run, RunStore
from tests.support.mailbox import Mailbox, WebhookReceiver

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def schedule(**fields):
    s = new_schedule("alice", {"notebook": "fit.ipynb", **fields})
    check_timing(s, min_interval=60)
    s.created = fields.get("created", T0)
    s.next_slot = slot_after(s, s.created)
    return s


class Recorder:
    """Submits nothing: records what the tick asked for, with runs that end when told to."""

    def __init__(self, fail=False):
        self.submitted, self.states, self.fail = [], {}, fail
        self.lock = threading.Lock()

    def submit(self, notebook, parameters, view, cluster, backend, out, notify=None, schedule=""):
        if self.fail:
            raise Unavailable("the scheduler is down")
        with self.lock:
            run = SimpleNamespace(id=f"run{len(self.submitted):09d}", schedule=schedule)
            self.submitted.append(run)
            self.states[run.id] = "running"
        return run

    def get(self, run_id):
        if run_id not in self.states:
            raise NotFound(run_id)
        return SimpleNamespace(id=run_id, state=self.states[run_id])


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"cron": "61 * * * *"}, "cron: '61 * * * *' is not a cron expression"),
        ({"cron": "* * * *"}, "cron: '* * * *' is not a cron expression of five fields"),
        (
            {"cron": "* * * * *"},
            "cron: this schedule would fire every 1 minute; this site allows at most one run every 5 minutes",
        ),
        ({"every": "4m"}, "every: this schedule would fire every 4 minutes"),
        ({"every": "ten minutes"}, "every: 'ten minutes' is not an interval"),
        ({"every": -5}, "every must be a positive interval"),
        ({"every": "1h", "cron": "0 * * * *"}, "give one of cron"),
        ({}, "give one of cron"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a time zone"),
        ({"every": "1h", "start": "2027-01-02", "end": "2027-01-01"}, "end must be after start"),
        ({"every": "1h", "start": "tomorrow"}, "start: 'tomorrow' is not a time"),
        ({"every": "1h", "misfire": "sometimes"}, "misfire must be one of skip, catch_up"),
    ],
)
def test_bad_timing_is_refused_naming_the_field(fields, message):
    with pytest.raises(BadInput, match=message.replace("*", r"\*").replace("(", r"\(")):
        check_timing(new_schedule("alice", {"notebook": "n.ipynb", **fields}), min_interval=300)


def test_cron_slots_follow_the_time_zone_across_a_clock_change_and_stop_at_the_end():
    s = schedule(cron="0 8 * * *", timezone="Europe/Zurich", start="2027-03-26T00:00", end="2027-03-29T12:00")
    slots, after = [], s.start - 1
    while (slot := slot_after(s, after)) is not None:
        slots.append(datetime.fromtimestamp(slot, ZoneInfo("Europe/Zurich")).isoformat())
        after = slot
    # 8:00 in Zurich every day, before and after the clocks went forward on 28 March.
    assert slots == [f"2027-03-{d}T08:00:00+0{1 if d < 28 else 2}:00" for d in (26, 27, 28, 29)]


def test_interval_slots_count_from_the_start_or_one_interval_after_creation():
    started = schedule(every="1h", start=T0 + 600)
    assert slot_after(started, T0) == T0 + 600
    assert slot_after(started, T0 + 600) == T0 + 600 + 3600
    created = schedule(every="10m")
    assert created.next_slot == T0 + 600


def test_each_slot_fires_once_whatever_races_for_it(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    s = schedule(every="10m")
    store.add(s, limit=5)
    runs = Recorder()
    now = s.next_slot + 1
    barrier = threading.Barrier(4)

    def ticker():
        barrier.wait()
        tick(ScheduleStore(tmp_path / "runs.db"), lambda owner: runs, now=now)

    threads = [threading.Thread(target=ticker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs.submitted) == 1
    after = store.get(s.id, "alice")
    assert (after.last_slot, after.next_slot, after.fired, after.last_run) == (
        s.next_slot,
        s.next_slot + 600,
        1,
        runs.submitted[0].id,
    )
    assert tick(store, lambda owner: runs, now=now) == []  # nothing more is due
    with pytest.raises(NotFound):
        store.get(s.id, "bob")  # another user's schedule is none of theirs


def test_after_downtime_skip_passes_the_missed_slots_and_catch_up_runs_once(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    skip, catch_up = schedule(every="10m"), schedule(every="10m", misfire="catch_up")
    for s in (skip, catch_up):
        store.add(s, limit=5)
    runs = Recorder()
    now = T0 + 3 * 3600 + 300  # down for over three hours: 18 slots went by, the last 5 minutes ago
    done = dict((sid, what) for sid, _slot, what in tick(store, lambda owner: runs, now=now))
    assert done == {skip.id: "skipped", catch_up.id: "submitted"}
    assert len(runs.submitted) == 1 and runs.submitted[0].schedule == catch_up.id
    for s in (skip, catch_up):
        assert store.get(s.id, "alice").next_slot == T0 + 3 * 3600 + 600  # the next one to come
    firing = store.firings(skip.id)[0]
    assert firing["state"] == "skipped" and "service was not running" in firing["note"]
    # A slot only a little late (a busy or restarting server) still fires under "skip".
    assert tick(store, lambda owner: runs, now=T0 + 3 * 3600 + 600 + MISFIRE_GRACE / 2)


def test_a_slot_while_the_last_run_still_runs_is_skipped_unless_overlap_is_allowed(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    one, many = schedule(every="10m"), schedule(every="10m", overlap="allow")
    for s in (one, many):
        store.add(s, limit=5)
    runs = Recorder()
    tick(store, lambda owner: runs, now=T0 + 601)
    assert len(runs.submitted) == 2
    done = dict((sid, what) for sid, _slot, what in tick(store, lambda owner: runs, now=T0 + 1201))
    assert done == {one.id: "skipped", many.id: "submitted"}
    assert "was still running" in store.firings(one.id)[0]["note"]
    for run in runs.submitted:
        runs.states[run.id] = "succeeded"
    done = dict((sid, what) for sid, _slot, what in tick(store, lambda owner: runs, now=T0 + 1801))
    assert done == {one.id: "submitted", many.id: "submitted"}


def test_paused_schedules_wait_and_a_claim_whose_run_never_started_is_submitted_after_its_lease(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    s = schedule(every="10m")
    store.add(s, limit=5)
    runs = Recorder()
    store.update(s.id, "alice", lambda x: setattr(x, "paused", True))
    assert tick(store, lambda owner: runs, now=T0 + 601) == []
    store.update(s.id, "alice", lambda x: setattr(x, "paused", False))
    # The process claimed the slot, then died before submitting it.
    assert store.claim(store.get(s.id, "alice"), T0 + 600, "claimed", now=T0 + 601)
    assert tick(store, lambda owner: runs, now=T0 + 602) == []  # within the lease: the claimer may still be at it
    done = tick(store, lambda owner: runs, now=T0 + 601 + CLAIM_LEASE + 1)
    assert [what for _sid, slot, what in done if slot == T0 + 600] == ["submitted"]
    assert len([r for r in runs.submitted if r.schedule == s.id]) == 1


def test_a_run_that_cannot_start_is_a_failed_firing_and_the_schedule_goes_on(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    s = schedule(every="10m")
    store.add(s, limit=5)
    assert tick(store, lambda owner: Recorder(fail=True), now=T0 + 601) == [(s.id, T0 + 600, "failed")]
    firing = store.firings(s.id)[0]
    assert firing["state"] == "failed" and "the scheduler is down" in firing["note"]
    assert store.get(s.id, "alice").next_slot == T0 + 1200


def test_one_user_has_at_most_the_sites_number_of_schedules(tmp_path):
    store = ScheduleStore(tmp_path / "runs.db")
    for _ in range(2):
        store.add(schedule(every="1h"), limit=2)
    with pytest.raises(BadInput, match="you have 2 schedules, the most this site allows"):
        store.add(schedule(every="1h"), limit=2)


def _public_only(url):
    raise BadInput("links may not reach 127.0.0.1: it is a loopback, private or link-local address")


@pytest.mark.parametrize(
    "spec,message",
    [
        ("always", "notify is an object"),
        ({"on": "sometimes", "email": "a@example.org"}, "notify.on must be one of failed, ended, never"),
        ({"email": "not an address"}, "notify.email must be one email address"),
        ({"email": "a@example.org", "cc": "b@example.org"}, "notify has no field 'cc'"),
        ({"webhook": "http://127.0.0.1:9/hook"}, "notify.webhook: links may not reach 127.0.0.1"),
        ({"webhook": "https://example.org/h", "webhook_secret": "short"}, "webhook_secret must be a text of 16"),
        ({"on": "ended"}, "notify needs an email or a webhook"),
    ],
)
def test_bad_notify_is_refused_naming_the_field(spec, message):
    with pytest.raises(BadInput, match=message):
        check_notify(spec, _public_only, Mail(host="mail.example.org"))


def test_email_needs_the_sites_mail_server():
    with pytest.raises(BadInput, match="no mail server for notifications"):
        check_notify({"email": "a@example.org"}, _public_only, Mail())


def ended_run(tmp_path, state, notify, error=""):
    run = Run(
        id="0123456789ab",
        owner="alice",
        notebook="fit.ipynb",
        parameters={"year": 2024},
        view="LCG_106/x",
        kernel="k",
        backend="local",
        output="fit-run-1.ipynb",
        html="fit-run-1.html",
        run_dir=str(tmp_path),
        notify=notify,
        created=T0,
        started=T0 + 2,
        ended=T0 + 14.5,
        state=state,
        error=error,
    )
    return run


def test_a_failed_run_is_told_by_email_and_a_signed_webhook_once(tmp_path):
    mailbox, hook = Mailbox().start(), WebhookReceiver()
    try:
        notify, secret = check_notify(
            {"on": "failed", "email": "alice@example.org", "webhook": hook.url}, lambda url: url, Mail(host="127.0.0.1")
        )
        assert secret and notify["webhook_secret"] == secret
        outbox = Outbox(tmp_path / "runs.db")
        run = ended_run(tmp_path, "failed", notify, error="cell 2: ValueError: the fit did not converge")
        assert outbox.enqueue(run, "https://cygnet.example.org/lab/tree/fit-run-1.ipynb") == 2
        assert outbox.enqueue(run) == 0  # once per run and channel
        assert outbox.enqueue(ended_run(tmp_path, "succeeded", notify)) == 0  # "failed" only
        notifier = Notifier(outbox, Mail(host="127.0.0.1", port=mailbox.port, sender="cygnet@example.org"))
        assert notifier.deliver() == 2
        (mail,) = mailbox.wait_for(1)
        assert mail["Subject"] == "Cygnet: run of fit.ipynb failed" and mail["To"] == "alice@example.org"
        text = mail.get_payload()
        for expected in ("Duration: 12.5 s", "ValueError: the fit did not converge", "lab/tree/fit-run-1.ipynb"):
            assert expected in text
        (body,) = hook.wait_for(1)
        assert body["run"]["state"] == "failed" and body["run"]["duration_seconds"] == 12.5
        assert body["run"]["error"] == "cell 2: ValueError: the fit did not converge"
        raw = hook.received[0]
        expected = "sha256=" + hmac.new(secret.encode(), raw["body"], hashlib.sha256).hexdigest()
        assert raw["headers"][SIGNATURE_HEADER] == expected
        shown = outbox.of_run(run.id, "alice")
        assert [(n["channel"], n["state"]) for n in shown] == [("email", "sent"), ("webhook", "sent")]
        assert secret not in repr(shown) and outbox.of_run(run.id, "bob") == []
        assert "webhook_secret" not in repr(run.to_dict()) and run.to_dict()["notify"]["webhook_signed"]
    finally:
        mailbox.stop()
        hook.stop()


def test_an_undelivered_notification_is_retried_with_back_off_then_recorded_failed(tmp_path):
    hook = WebhookReceiver(answers=[503, 500])
    try:
        outbox = Outbox(tmp_path / "runs.db")
        run = ended_run(tmp_path, "succeeded", {"on": "ended", "webhook": hook.url, "webhook_secret": "s" * 20})
        outbox.enqueue(run, now=T0)
        notifier = Notifier(outbox)
        assert notifier.deliver(now=T0) == 0
        (state,) = outbox.of_run(run.id, "alice")
        assert (state["state"], state["attempts"], state["last_error"]) == (
            "pending",
            1,
            "the webhook answered HTTP 503",
        )
        assert notifier.deliver(now=T0 + 1) == 0 and len(hook.received) == 1  # waits for its back-off
        assert notifier.deliver(now=state["next_try"] + 1) == 0  # 500
        (state,) = outbox.of_run(run.id, "alice")
        assert notifier.deliver(now=state["next_try"] + 1) == 1
        assert outbox.of_run(run.id, "alice")[0]["state"] == "sent" and len(hook.delivered()) == 1
    finally:
        hook.stop()
    # A hook that is gone for good: tried 1 + len(BACKOFF) times, then failed, with the last error.
    mail_run = ended_run(tmp_path, "failed", {"on": "failed", "email": "a@example.org"})
    mail_run.id = "ba9876543210"
    outbox.enqueue(mail_run, now=T0)
    dead = Notifier(outbox, Mail(host="127.0.0.1", port=hook.httpd.server_address[1]))
    when = T0
    for _ in range(len(BACKOFF) + 1):
        dead.deliver(now=when)
        when += max(BACKOFF) + 1
    (state,) = outbox.of_run(mail_run.id, "alice")
    assert state["state"] == "failed" and state["attempts"] == len(BACKOFF) + 1 and state["last_error"]


def test_runs_awaiting_notice_are_handed_over_once_when_they_end(tmp_path):
    store, outbox = RunStore(tmp_path / "runs.db"), Outbox(tmp_path / "runs.db")
    run = ended_run(
        tmp_path, "running", {"on": "ended", "webhook": "https://example.org/h", "webhook_secret": "s" * 20}
    )
    run.ended = None
    store.add(run)
    store.add(ended_run(tmp_path, "running", {}).__class__(**{**run.__dict__, "id": "000000000000", "notify": {}}))
    live = {"state": "running"}

    def runs_of(owner):
        def get(run_id):
            current = store.get(run_id, owner)
            current.state = live["state"]
            current.ended = time.time() if live["state"] != "running" else None
            return current

        return SimpleNamespace(get=get)

    notifier = Notifier(outbox)
    assert [r.id for r in store.awaiting_notice()] == [run.id]
    assert notifier.collect(store, runs_of) == 0
    live["state"] = "succeeded"
    assert notifier.collect(store, runs_of) == 1
    assert store.awaiting_notice() == [] and notifier.collect(store, runs_of) == 0
    assert store.awaiting_notice(owners={"bob"}) == []


# --- the hub's runs service: when to start a stopped session ---------------------------------------
# The hub's side is a small stand-in here (which sessions run, which starts were asked for);
# test_hub_isolation runs the service under a real hub, starting a real per-account session.
class HubSeen:
    def __init__(self, running=(), refuse=False):
        self.running, self.refuse, self.started = set(running), refuse, []

    def server_running(self, user):
        if user == "deleted":
            raise LookupError(user)
        return user in self.running

    def start_server(self, user):
        if self.refuse:
            raise RuntimeError("the hub refused to start the session: no such view")
        self.started.append(user)
        self.running.add(user)


def test_the_runs_service_starts_a_stopped_session_once_per_wake_up_and_looks_again_later(tmp_path):
    from cygnet.hub.runs_service import LOOK_AGAIN, WakeStore, wake_due

    store, now = WakeStore(tmp_path / "wakes.sqlite"), 1_000_000.0
    store.set("alice", now + 30)
    store.set("bob", now + 600)  # beyond the lead: not yet
    hub = HubSeen()
    assert wake_due(store, hub, lead=60, now=now) == [("alice", "started")]
    assert wake_due(store, hub, lead=60, now=now + 1) == [], "one start per wake-up"
    assert store.get("alice")["note"].startswith("session started at")
    # Running, with work coming: looked at again, more often as the work nears.
    store.set("alice", now + 100)
    assert wake_due(store, hub, lead=120, now=now) == [("alice", "running")]
    assert wake_due(store, hub, lead=120, now=now + 49) == []
    hub.running.clear()  # stopped meanwhile (culled, logged out)
    assert wake_due(store, hub, lead=120, now=now + 51) == [("alice", "started")]
    # Stopped again with no word from it since: started again after LOOK_AGAIN.
    hub.running.clear()
    assert wake_due(store, hub, lead=120, now=now + 51 + LOOK_AGAIN + 1) == [("alice", "started")]
    store.set("alice", None)
    assert store.get("alice") is None and wake_due(store, hub, 120, now + 10**4)[0][0] == "bob"


def test_a_start_the_hub_refuses_is_noted_and_tried_again(tmp_path):
    from cygnet.hub.runs_service import RETRY_AFTER, WakeStore, wake_due

    store, hub = WakeStore(tmp_path / "wakes.sqlite"), HubSeen(refuse=True)
    store.set("alice", time.time())
    assert wake_due(store, hub, lead=60) == [("alice", "failed")]
    seen = store.get("alice")
    assert "no such view" in seen["note"] and seen["next"] >= time.time() + RETRY_AFTER - 5
    assert wake_due(store, hub, lead=0) == [], "not again before RETRY_AFTER"
    store.set("deleted", time.time())  # a user the hub no longer has
    assert wake_due(store, HubSeen(), lead=30) == [("deleted", "gone")] and store.get("deleted") is None
