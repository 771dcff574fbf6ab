"""Schedules: a notebook run again and again, by a cron expression or at an interval, with a time
zone, a start and an end, pause and resume, a misfire policy and an overlap policy.

A schedule's *slots* are the times it should fire. Each slot fires at most once, across threads,
processes and restarts: the firing is claimed in the store (a row keyed by schedule and slot)
before the run is submitted, and a claim whose run never got submitted (the process died in
between) is submitted by the next tick once its lease has run out."""

import math
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cygnet.core.errors import BadInput

from .store import shown_notify

MISFIRE = ("skip", "catch_up")  # after downtime: skip missed slots, or run once for the latest
OVERLAP = ("skip", "allow")  # a slot while the previous run still runs: skipped, or run beside it
MISFIRE_GRACE = 60.0  # seconds late a slot may fire under "skip" (a busy or restarting server)
CLAIM_LEASE = 300.0  # seconds after which a claimed firing with no run is taken to be orphaned
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
SCHEDULE_ID = re.compile(r"^[0-9a-f]{12}$")
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: times beyond are refused, not overflowed


@dataclass
class Schedule:
    id: str
    owner: str
    notebook: str
    parameters: dict = field(default_factory=dict)
    view: str = ""
    cluster: str = ""
    backend: str = ""
    cron: str = ""  # five fields, in `timezone`
    every: float = 0.0  # seconds; one of cron and every
    timezone: str = "UTC"
    start: float | None = None  # no slot before this (interval slots count from it)
    end: float | None = None  # no slot after this
    paused: bool = False
    misfire: str = "skip"
    overlap: str = "skip"
    notify: dict = field(default_factory=dict)  # see cygnet.runs.notify
    # Check on new views: each slot, a view of the same platform that was not there before runs
    # the notebook beside `view` and the two results are compared (none new: the slot is skipped).
    check_new_views: bool = False
    views_known: list = field(default_factory=list)
    created: float = field(default_factory=time.time)
    next_slot: float | None = None
    last_slot: float | None = None
    last_run: str = ""
    fired: int = 0
    skipped: int = 0

    def to_dict(self):
        """What the owner is shown: everything but the webhook's secret."""
        data = asdict(self)
        data["notify"] = shown_notify(data["notify"])
        return data


def parse_interval(text):
    """'90s', '10m', '1.5h', '2d', '1w' or a number of seconds -> seconds; BadInput naming `every`."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise BadInput("every must be a number of seconds or a text such as '10m', '1h' or '2d'")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = INTERVAL.match(text)
        if not match:
            raise BadInput(f"every: {text!r} is not an interval such as '90s', '10m', '1h', '2d' or '1w'")
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise BadInput("every must be a positive interval")
    if seconds > 366 * 86400:
        raise BadInput("every: a schedule runs at least once a year (at most 366d)")
    return seconds


def check_timing(schedule, min_interval):
    """BadInput naming the field when the schedule's timing is wrong or fires more often than the
    site allows (`min_interval` seconds)."""
    from croniter import croniter

    if bool(schedule.cron) == bool(schedule.every):
        raise BadInput("give one of cron (a cron expression) and every (an interval)")
    try:
        zone = ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"timezone: {schedule.timezone!r} is not a time zone (such as 'Europe/Zurich' or 'UTC')"
        ) from None
    if schedule.cron:
        if len(schedule.cron.split()) != 5 or not croniter.is_valid(schedule.cron):
            raise BadInput(
                f"cron: {schedule.cron!r} is not a cron expression of five fields (minute hour day month weekday)"
            )
        # The shortest gap between its next slots.
        try:
            it = croniter(schedule.cron, datetime.fromtimestamp(time.time(), zone))
            slots = [it.get_next(float) for _ in range(64)]
        except Exception:  # noqa: BLE001 - croniter's own errors: an expression with no slots to come
            raise BadInput(f"cron: {schedule.cron!r} never fires (such as the 31st of February)") from None
        gap = min(b - a for a, b in zip(slots, slots[1:], strict=False))
    else:
        gap = schedule.every
    if gap < min_interval:
        raise BadInput(
            f"{'cron' if schedule.cron else 'every'}: this schedule would fire every {_human(gap)}; "
            f"this site allows at most one run every {_human(min_interval)}"
        )
    if schedule.start is not None and schedule.end is not None and schedule.end <= schedule.start:
        raise BadInput("end must be after start")
    if schedule.misfire not in MISFIRE:
        raise BadInput(f"misfire must be one of {', '.join(MISFIRE)}")
    if schedule.overlap not in OVERLAP:
        raise BadInput(f"overlap must be one of {', '.join(OVERLAP)}")


def slot_after(schedule, after):
    """The first slot of `schedule` strictly after the time `after`, or None when it has ended."""
    if schedule.cron:
        from croniter import croniter

        begin = max(after, (schedule.start or -math.inf) - 1)
        zone = ZoneInfo(schedule.timezone)
        slot = croniter(schedule.cron, datetime.fromtimestamp(begin, zone)).get_next(float)
        if schedule.start is not None and slot < schedule.start:
            slot = croniter(schedule.cron, datetime.fromtimestamp(schedule.start - 1, zone)).get_next(float)
    else:
        # Interval slots: start, start + every, ... (or one interval after creation, with no start).
        anchor = schedule.start if schedule.start is not None else schedule.created
        first = 0 if schedule.start is not None else 1
        k = max(first, math.floor((after - anchor) / schedule.every) + 1)
        slot = anchor + k * schedule.every
    if schedule.end is not None and slot > schedule.end:
        return None
    return slot


def latest_due(schedule, now):
    """The latest slot at or before `now`, from the schedule's next slot on (None if none is due),
    and how many slots before it were missed."""
    slot = schedule.next_slot
    if slot is None or slot > now:
        return None, 0
    missed = 0
    if schedule.every and not schedule.cron:
        steps = math.floor((now - slot) / schedule.every)
        candidate = slot + steps * schedule.every
        if schedule.end is not None and candidate > schedule.end:
            steps = math.floor((schedule.end - slot) / schedule.every)
        return slot + steps * schedule.every, steps
    while True:
        following = slot_after(schedule, slot)
        if following is None or following > now or missed > 100_000:
            return slot, missed
        slot, missed = following, missed + 1


def new_schedule(owner, fields):
    """A Schedule from a request's fields (already type-checked), not yet checked for timing."""
    schedule = Schedule(id=uuid.uuid4().hex[:12], owner=owner, notebook=fields["notebook"])
    for name in ("parameters", "view", "cluster", "backend", "cron", "timezone", "misfire", "overlap", "notify"):
        if fields.get(name) not in (None, ""):
            setattr(schedule, name, fields[name])
    if fields.get("check_new_views") not in (None, False):
        if fields["check_new_views"] is not True:
            raise BadInput("check_new_views must be true or false")
        schedule.check_new_views = True
    if fields.get("every") not in (None, "", 0):
        schedule.every = parse_interval(fields["every"])
    for name in ("start", "end"):
        if fields.get(name) not in (None, ""):
            setattr(schedule, name, parse_time(fields[name], name, schedule.timezone))
    schedule.cron = " ".join(schedule.cron.split())
    return schedule


def parse_time(value, name, timezone="UTC"):
    """A time given as seconds since the epoch or an ISO 8601 text (in `timezone` when it names
    none) -> seconds since the epoch; BadInput naming `name`."""
    if isinstance(value, bool):
        raise BadInput(f"{name} must be a time (ISO 8601 or seconds since 1970)")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value <= LATEST:
            raise BadInput(f"{name} must be a time (ISO 8601, or seconds since 1970 before the year 10000)")
        return float(value)
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a time (ISO 8601 or seconds since 1970)")
    try:
        moment = datetime.fromisoformat(value.strip()[:64])
    except ValueError:
        raise BadInput(f"{name}: {value!r} is not a time such as 2027-01-31T08:00") from None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"timezone: {timezone!r} is not a time zone") from None
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError, OSError):
        seconds = -1.0
    if not 0 <= seconds <= LATEST:
        raise BadInput(f"{name} must be between 1970 and the year 10000")
    return seconds


def new_secret():
    return secrets.token_urlsafe(32)


def _human(seconds):
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def platform_of(view_name):
    """The platform part of a view's name (<release>/<platform>)."""
    return view_name.rpartition("/")[2]


def unchecked_views(schedule, usable):
    """The usable views a new-view check has not seen, of the schedule's platform, newest last
    (release names compared by their numbers: LCG_107 after LCG_99)."""
    platform = platform_of(schedule.view)
    new = [v for v in usable if platform_of(v) == platform and v != schedule.view and v not in schedule.views_known]
    return sorted(new, key=_release_key)


def _release_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]
