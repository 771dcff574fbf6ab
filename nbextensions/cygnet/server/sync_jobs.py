"""Sync jobs for the REST API: POST /cygnet/api/sync starts one in a thread, GET follows it.

A job mirrors a folder of the workspace into the configured box (or a folder inside it):
both ends are confined, so a request can neither read outside the workspace nor write
outside the box."""

import asyncio
import threading
import time
import uuid

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core.errors import BadInput, CygnetError, NotFound, as_http_error

from .handlers import CygnetHandler
from cygnet.core.paths import confine

MAX_KEPT = 100  # finished jobs remembered for GET


class SyncJobs:
    def __init__(self, workspace, box_url, data_dir):
        self.workspace, self.box_url, self.data_dir = workspace, box_url, data_dir
        self.jobs = {}
        self.lock = threading.Lock()

    def start(self, body):
        from cygnet.storage.box import box_subfolder

        if not isinstance(body, dict) or not isinstance(body.get("src"), str):
            raise BadInput('the body is JSON with "src" (a folder of the workspace) and optionally '
                           '"dest" (a folder inside the box), "delete", "dry_run"')
        src = confine(self.workspace, body["src"])
        if not src.is_dir():
            raise NotFound(f"{body['src']} is not a folder of the workspace")
        dest = box_subfolder(self.box_url, body.get("dest") or "")
        job = {"id": uuid.uuid4().hex, "state": "running", "src": body["src"], "dest": body.get("dest") or "",
               "progress": {"files_done": 0, "files_total": None, "bytes": 0}, "summary": None,
               "error": None, "started": time.time(), "finished": None}
        with self.lock:
            self._forget_old()
            self.jobs[job["id"]] = job
        options = {"delete": bool(body.get("delete")), "dry_run": bool(body.get("dry_run"))}
        threading.Thread(target=self._run, args=(job, str(src), dest, options), daemon=True).start()
        return dict(job)

    def get(self, job_id):
        with self.lock:
            if job_id not in self.jobs:
                raise NotFound(f"no sync job {job_id}")
            return dict(self.jobs[job_id])

    def _run(self, job, src, dest, options):
        from cygnet.storage.sync_engine import sync

        def progress(done, total, sent):
            job["progress"] = {"files_done": done, "files_total": total, "bytes": sent}

        try:
            job["summary"] = sync(src, dest, data_dir=self.data_dir, progress=progress, **options).to_dict()
            job["state"] = "done"
        except CygnetError as e:
            job["error"], job["state"] = str(e), "failed"
        except Exception as e:  # noqa: BLE001 - a job must end with a state a client can read
            job["error"], job["state"] = f"internal error: {type(e).__name__}: {e}", "failed"
        job["finished"] = time.time()

    def _forget_old(self):
        finished = sorted((j for j in self.jobs.values() if j["finished"]), key=lambda j: j["finished"])
        for job in finished[:max(0, len(self.jobs) - MAX_KEPT)]:
            del self.jobs[job["id"]]


class SyncJobsHandler(CygnetHandler):
    """POST /cygnet/api/sync {src, dest?, delete?, dry_run?} -> 202 with the job."""

    @web.authenticated
    @authorized
    async def post(self):
        try:
            job = await asyncio.to_thread(self.settings["cygnet_sync_jobs"].start, self.get_json_body())
        except CygnetError as e:
            raise as_http_error(e) from e
        self.set_status(202)
        self.finish_json(job)


class SyncJobHandler(CygnetHandler):
    """GET /cygnet/api/sync/{id} -> the job: state (running, done, failed), progress, summary, error."""

    @web.authenticated
    @authorized
    def get(self, job_id):
        try:
            self.finish_json(self.settings["cygnet_sync_jobs"].get(job_id))
        except CygnetError as e:
            raise as_http_error(e) from e
