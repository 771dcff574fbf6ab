"""Schedule records and the tick that fires them (cygnet.runs.schedules says what a slot is).

The store keeps schedules and their firings beside the runs (runs.db). `tick` fires what is due:
each firing is claimed first (a row keyed by schedule and slot, so no slot fires twice, whatever
restarts or second tickers there are), then submitted through the owner's Runs."""

import json
import logging
import time
from dataclasses import asdict

from cygnet.core.errors import BadInput, CygnetError, NotFound

from .schedules import CLAIM_LEASE, MISFIRE_GRACE, Schedule, latest_due, slot_after, unchecked_views
from .store import FINAL, Database

LOG = logging.getLogger("cygnet.runs")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS firings (
    schedule TEXT NOT NULL,
    slot REAL NOT NULL,
    owner TEXT NOT NULL,
    claimed REAL NOT NULL,
    state TEXT NOT NULL,          -- claimed, submitted, skipped, failed
    run TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (schedule, slot)
);
"""


class ScheduleStore(Database):
    def __init__(self, path):
        super().__init__(path, SCHEMA)

    def add(self, schedule, limit):
        """Add `schedule` unless its owner already has `limit` of them (BadInput naming the limit)."""
        with self._lock, self._connect() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM schedules WHERE owner = ?", (schedule.owner,)).fetchone()
            if count >= limit:
                raise BadInput(f"you have {count} schedules, the most this site allows; remove one first")
            db.execute("INSERT INTO schedules VALUES (?, ?, ?)", (schedule.id, schedule.owner, _dump(schedule)))

    def update(self, schedule_id, owner, change):
        """`change(schedule)` applied to `owner`'s schedule in one transaction; the schedule after."""
        with self._write() as db:
            row = db.execute(
                "SELECT record FROM schedules WHERE id = ? AND owner = ?", (str(schedule_id), owner)
            ).fetchone()
            if row is None:
                raise NotFound(f"no schedule {schedule_id}")
            schedule = Schedule(**json.loads(row[0]))
            change(schedule)
            db.execute("UPDATE schedules SET record = ? WHERE id = ?", (_dump(schedule), schedule.id))
        return schedule

    def get(self, schedule_id, owner):
        """`owner`'s schedule; NotFound for another user's as for none at all."""
        with self._connect() as db:
            row = db.execute(
                "SELECT record FROM schedules WHERE id = ? AND owner = ?", (str(schedule_id), owner)
            ).fetchone()
        if row is None:
            raise NotFound(f"no schedule {schedule_id}")
        return Schedule(**json.loads(row[0]))

    def list(self, owner=None):
        with self._connect() as db:
            if owner is None:
                rows = db.execute("SELECT record FROM schedules").fetchall()
            else:
                rows = db.execute("SELECT record FROM schedules WHERE owner = ?", (owner,)).fetchall()
        return sorted((Schedule(**json.loads(r[0])) for r in rows), key=lambda s: s.created)

    def record(self, schedule_id):
        """Schedule `schedule_id`, whoever owns it (for the tick), or None."""
        with self._connect() as db:
            return _read(db, schedule_id)

    def remove(self, schedule_id, owner):
        with self._lock, self._connect() as db:
            gone = db.execute("DELETE FROM schedules WHERE id = ? AND owner = ?", (str(schedule_id), owner)).rowcount
        if not gone:
            raise NotFound(f"no schedule {schedule_id}")

    def claim(self, schedule, slot, state, note="", now=None):
        """Claim `slot` of `schedule` (state 'claimed' to fire it, 'skipped' to pass it) and move
        the schedule past it, in one transaction; False if the slot was claimed already."""
        now = time.time() if now is None else now
        with self._write() as db:
            claimed = db.execute(
                "INSERT OR IGNORE INTO firings (schedule, slot, owner, claimed, state, note) VALUES (?, ?, ?, ?, ?, ?)",
                (schedule.id, slot, schedule.owner, now, state, note),
            ).rowcount
            current = _read(db, schedule.id)
            if current is None:
                return False  # removed meanwhile
            # Past the slot whoever claimed it (a save from an older read may have moved it back).
            if current.next_slot is not None and current.next_slot <= slot:
                current.last_slot = slot
                current.next_slot = slot_after(current, slot)
            if claimed and state == "skipped":
                current.skipped += 1
            db.execute("UPDATE schedules SET record = ? WHERE id = ?", (_dump(current), schedule.id))
            return bool(claimed)

    def submitted(self, schedule_id, slot, run_id, state="submitted", note=""):
        """Record what came of a claimed firing, and the schedule's last run."""
        with self._write() as db:
            db.execute(
                "UPDATE firings SET state = ?, run = ?, note = ? WHERE schedule = ? AND slot = ?",
                (state, run_id, note, schedule_id, slot),
            )
            current = _read(db, schedule_id)
            if current is not None and (run_id or state == "skipped"):
                if run_id:
                    current.last_run, current.fired = run_id, current.fired + 1
                else:
                    current.skipped += 1
                db.execute("UPDATE schedules SET record = ? WHERE id = ?", (_dump(current), schedule_id))

    def saw_views(self, schedule_id, views):
        """A new-view check has seen `views`: they are not new again."""
        with self._write() as db:
            current = _read(db, schedule_id)
            if current is not None:
                current.views_known = sorted({*current.views_known, *views})
                db.execute("UPDATE schedules SET record = ? WHERE id = ?", (_dump(current), schedule_id))

    def orphaned_claims(self, now):
        """Claimed firings whose run was never submitted (the claimer died), past their lease."""
        with self._connect() as db:
            return db.execute(
                "SELECT schedule, slot FROM firings WHERE state = 'claimed' AND claimed < ?", (now - CLAIM_LEASE,)
            ).fetchall()

    def firings(self, schedule_id, limit=50):
        with self._connect() as db:
            rows = db.execute(
                "SELECT slot, state, run, note FROM firings WHERE schedule = ? ORDER BY slot DESC LIMIT ?",
                (schedule_id, limit),
            ).fetchall()
        return [{"slot": slot, "state": state, "run": run, "note": note} for slot, state, run, note in rows]


def tick(store, runs_of, owners=None, now=None, log=LOG):
    """Fire every due slot of the schedules of `owners` (everyone's if None); `runs_of(owner)` is
    the owner's Runs. Returns [(schedule id, slot, what happened)]."""
    now = time.time() if now is None else now
    done = []
    for schedule_id, slot in store.orphaned_claims(now):
        done.append(_recover(store, runs_of, schedule_id, slot, owners, log))
    for schedule in store.list():
        if owners is not None and schedule.owner not in owners:
            continue
        if schedule.paused:
            continue
        slot, missed = latest_due(schedule, now)
        if slot is None:
            continue
        if schedule.misfire == "skip" and now - slot > MISFIRE_GRACE:
            note = f"missed by {now - slot:.0f} s (the service was not running); skipped as the schedule says"
            if store.claim(schedule, slot, "skipped", note, now):
                done.append((schedule.id, slot, "skipped"))
            continue
        busy = _previous_still_running(schedule, runs_of)
        if busy and schedule.overlap == "skip":
            if store.claim(schedule, slot, "skipped", f"run {busy} of this schedule was still running", now):
                done.append((schedule.id, slot, "skipped"))
            continue
        if not store.claim(schedule, slot, "claimed", f"{missed} earlier slot(s) missed" if missed else "", now):
            continue  # another ticker has it
        done.append((schedule.id, slot, _fire(store, runs_of, schedule, slot, log)))
    return [d for d in done if d]


def _fire(store, runs_of, schedule, slot, log):
    if schedule.check_new_views:
        return _check_new_view(store, runs_of(schedule.owner), schedule, slot, log)
    try:
        run = runs_of(schedule.owner).submit(
            schedule.notebook,
            schedule.parameters,
            schedule.view,
            schedule.cluster,
            schedule.backend,
            "",
            notify=schedule.notify,
            schedule=schedule.id,
        )
    except CygnetError as e:
        # The run's record (when one was made) says why; the firing says so too.
        log.warning("cygnet: schedule %s could not start its run: %s", schedule.id, e)
        store.submitted(schedule.id, slot, getattr(e, "run_id", ""), "failed", str(e))
        return "failed"
    store.submitted(schedule.id, slot, run.id)
    return "submitted"


def _check_new_view(store, runs, schedule, slot, log):
    """A new-view check's slot: the newest view not seen before, run beside the schedule's own
    and compared (the pair's second run tells the owner); a slot with none new is skipped."""
    try:
        new = unchecked_views(schedule, runs.usable_views())
        if not new:
            store.submitted(schedule.id, slot, "", "skipped", "no new view since the last check")
            return "skipped"
        pair = runs.check_views(
            schedule.notebook,
            [schedule.view, new[-1]],
            schedule.parameters,
            schedule.cluster,
            schedule.backend,
            notify=schedule.notify,
            schedule=schedule.id,
        )
    except CygnetError as e:
        log.warning("cygnet: schedule %s could not check a new view: %s", schedule.id, e)
        store.submitted(schedule.id, slot, getattr(e, "run_id", ""), "failed", str(e))
        return "failed"
    store.saw_views(schedule.id, new)  # all of them: only the newest is worth a run
    store.submitted(schedule.id, slot, pair[1].id, note=f"{pair[0].view} against {pair[1].view}")
    return "submitted"


def _recover(store, runs_of, schedule_id, slot, owners, log):
    schedule = store.record(schedule_id)
    if schedule is None:
        store.submitted(schedule_id, slot, "", "failed", "the schedule was removed before its run started")
        return None
    if owners is not None and schedule.owner not in owners:
        return None
    log.info("cygnet: schedule %s: submitting the run of a slot claimed before a restart", schedule_id)
    return (schedule_id, slot, _fire(store, runs_of, schedule, slot, log))


def _previous_still_running(schedule, runs_of):
    if not schedule.last_run:
        return ""
    try:
        run = runs_of(schedule.owner).get(schedule.last_run)
    except NotFound:
        return ""
    return "" if run.state in FINAL else run.id


def _read(db, schedule_id):
    row = db.execute("SELECT record FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    return None if row is None else Schedule(**json.loads(row[0]))


def _dump(schedule):
    return json.dumps(asdict(schedule))
