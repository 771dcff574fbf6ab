"""REST faces of schedules (the core is cygnet.runs.schedule_service): add, list, show, pause,
resume and remove your schedules."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core.errors import BadInput, as_http_error
from cygnet.runs.schedule_service import FIELDS

from .handlers import CygnetHandler


class SchedulesHandler(CygnetHandler):
    """GET /cygnet/api/schedules: your schedules. POST {notebook, cron | every, ...}: 201 with the
    schedule, and the webhook secret made for its notify (shown this once)."""

    @web.authenticated
    @authorized
    async def get(self):
        schedules = await self.run_core(self.extensionapp.schedules.list)
        self.finish_json([s.to_dict() for s in schedules])

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(FIELDS, required=("notebook",))
        schedule, secret = await self.run_core(self.extensionapp.schedules.add, body)
        self.set_status(201)
        self.finish_json({**schedule.to_dict(), **({"webhook_secret": secret} if secret else {})})


class ScheduleHandler(CygnetHandler):
    """GET /cygnet/api/schedules/{id}: the schedule and its latest firings (each slot: submitted
    with its run, skipped or failed, and why). PATCH {paused: true|false}: pause or resume it.
    DELETE: remove it (the runs it started stay)."""

    @web.authenticated
    @authorized
    async def get(self, schedule_id):
        schedules = self.extensionapp.schedules
        schedule = await self.run_core(schedules.get, schedule_id)
        firings = await self.run_core(schedules.firings, schedule_id)
        self.finish_json({**schedule.to_dict(), "firings": firings})

    @web.authenticated
    @authorized
    async def patch(self, schedule_id):
        body = self.json_body(("paused",), required=("paused",))
        if not isinstance(body["paused"], bool):
            raise as_http_error(BadInput("paused must be true or false"))
        schedules = self.extensionapp.schedules
        change = schedules.pause if body["paused"] else schedules.resume
        self.finish_json((await self.run_core(change, schedule_id)).to_dict())

    @web.authenticated
    @authorized
    async def delete(self, schedule_id):
        await self.run_core(self.extensionapp.schedules.remove, schedule_id)
        self.set_status(204)
        self.finish()


SCHEDULE_ID = r"[0-9a-f]{12}"
default_handlers = [
    ("/cygnet/api/schedules", SchedulesHandler),
    (rf"/cygnet/api/schedules/({SCHEDULE_ID})", ScheduleHandler),
]
