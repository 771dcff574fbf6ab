"""REST faces of sync jobs (the registry is cygnet.storage.sync_jobs): start, list, follow and
resume syncs of workspace folders into the box."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core.identity import current_user

from .handlers import CygnetHandler


class SyncJobsHandler(CygnetHandler):
    """GET /cygnet/api/sync: your jobs, newest first. POST {src, dest?, delete?, dry_run?}:
    202 with the job (an identical one queued or running is joined)."""

    @web.authenticated
    @authorized
    async def get(self):
        self.finish_json(await self.run_core(self.extensionapp.sync_jobs.list, current_user()))

    @web.authenticated
    @authorized
    async def post(self):
        job = await self.run_core(self.extensionapp.sync_jobs.start, self.json_value(), current_user(), self._submit)
        self.set_status(202)
        self.finish_json(job)

    def _submit(self, run):
        return _submit_long(self, run)


def _submit_long(handler, run):
    """A sync's work on the long pool, counted against the user's share of it."""
    return handler.extensionapp.work.submit_long(current_user(), "this sync", run)


class SyncJobHandler(CygnetHandler):
    """GET /cygnet/api/sync/{id}: the job: state (queued, running, done, failed, interrupted),
    progress, summary, error."""

    @web.authenticated
    @authorized
    async def get(self, job_id):
        self.finish_json(await self.run_core(self.extensionapp.sync_jobs.get, job_id, current_user()))


class SyncResumeHandler(CygnetHandler):
    """POST /cygnet/api/sync/{id}/resume: a new job with an interrupted or failed job's parameters.
    (POST only: it once inherited the listing's GET, which failed on the id it was given.)"""

    @web.authenticated
    @authorized
    async def post(self, job_id):
        job = await self.run_core(
            self.extensionapp.sync_jobs.resume, job_id, current_user(), lambda run: _submit_long(self, run)
        )
        self.set_status(202)
        self.finish_json(job)


JOB_ID = r"[0-9a-f]{32}"
default_handlers = [
    ("/cygnet/api/sync", SyncJobsHandler),
    (rf"/cygnet/api/sync/({JOB_ID})", SyncJobHandler),
    (rf"/cygnet/api/sync/({JOB_ID})/resume", SyncResumeHandler),
]
