"""One user's schedules: add, list, show, pause, resume and remove them. The REST API and
`cygnet schedule` are faces of this; the tick that fires them is cygnet.runs.scheduler.tick."""

import time

from cygnet.core.errors import BadInput

from .scheduler import ScheduleStore
from .schedules import check_timing, new_schedule, slot_after
from .service import Runs

FIELDS = (
    "notebook",
    "parameters",
    "view",
    "cluster",
    "backend",
    "cron",
    "every",
    "timezone",
    "start",
    "end",
    "misfire",
    "overlap",
    "notify",
    "check_new_views",
)
TEXT_FIELDS = ("notebook", "view", "cluster", "backend", "cron", "timezone", "misfire", "overlap")


class Schedules:
    def __init__(self, runs: Runs):
        self.runs = runs
        self.owner = runs.owner
        self.store = ScheduleStore(runs.dir / "runs.db")

    def add(self, fields):
        """A new schedule from `fields` (see FIELDS); BadInput naming the field that is wrong.
        Returns the schedule and the webhook secret made for it ('' if none was made)."""
        if not isinstance(fields, dict):
            raise BadInput("a schedule is an object of fields")
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise BadInput(f"a schedule has no field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        for name in TEXT_FIELDS:
            value = fields.get(name, "")
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{name} must be a string")
            if isinstance(value, str) and (len(value) > 4096 or "\x00" in value):
                raise BadInput(f"{name} is not a valid value")
        if not fields.get("notebook"):
            raise BadInput("notebook is required: the workspace path of the notebook to run")
        if fields.get("parameters") is not None and not isinstance(fields["parameters"], dict):
            raise BadInput("parameters is an object of name: value")
        schedule = new_schedule(self.owner, fields)
        check_timing(schedule, self.runs.settings.min_interval)
        notebook_path, parameters, view, _kernel, _engine, backend, _runner, _out = self.runs.check_request(
            schedule.notebook,
            schedule.parameters,
            schedule.view,
            schedule.cluster,
            schedule.backend,
            notebook_field=True,
        )
        schedule.notebook = notebook_path.relative_to(self.runs.workspace).as_posix()
        schedule.parameters = parameters
        schedule.backend = backend
        if schedule.check_new_views:  # the reference view, and the views there are today
            schedule.view = view.name
            schedule.views_known = self.runs.usable_views()
        schedule.notify, secret = self.runs.check_notify(schedule.notify)
        schedule.next_slot = slot_after(schedule, time.time())
        if schedule.next_slot is None:
            raise BadInput("end: the schedule would never fire (its end has passed)")
        self.store.add(schedule, self.runs.settings.max_schedules)
        return schedule, secret

    def list(self):
        return self.store.list(self.owner)

    def get(self, schedule_id):
        return self.store.get(schedule_id, self.owner)

    def firings(self, schedule_id):
        self.get(schedule_id)  # NotFound for another user's
        return self.store.firings(schedule_id)

    def pause(self, schedule_id):
        return self.store.update(schedule_id, self.owner, _pause)

    def resume(self, schedule_id):
        """Resume from now on: the slots that passed while it was paused are not made up."""
        return self.store.update(schedule_id, self.owner, _resume)

    def remove(self, schedule_id):
        """Remove the schedule; runs it started are kept, as are their results."""
        self.store.remove(schedule_id, self.owner)


def _pause(schedule):
    schedule.paused = True


def _resume(schedule):
    if schedule.paused:
        schedule.paused = False
        schedule.next_slot = slot_after(schedule, time.time())
