"""REST faces of batch runs (the core is cygnet.runs.service): submit a notebook, list and follow
your runs, cancel one."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core import checks
from cygnet.core.errors import BadInput, as_http_error

from .handlers import CygnetHandler

FIELDS = ("notebook", "parameters", "view", "cluster", "backend", "out", "notify")


class RunsHandler(CygnetHandler):
    """GET /cygnet/api/runs: your runs, newest first. POST {notebook, parameters?, view?, cluster?,
    backend?, out?, notify?}: 201 with the run (queued), and the webhook secret made for its
    notify (shown this once)."""

    @web.authenticated
    @authorized
    async def get(self):
        runs = await self.run_core(self.extensionapp.runs.list)
        self.finish_json([r.to_dict() for r in runs])

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(FIELDS, required=("notebook",))
        try:
            for name in ("notebook", "view", "cluster", "backend", "out"):
                checks.text(body.get(name, ""), name, required=name == "notebook", allow_empty=name != "notebook")
        except BadInput as e:
            raise as_http_error(e) from e
        run = await self.run_core(
            self.extensionapp.runs.submit,
            body["notebook"],
            body.get("parameters") or {},
            body.get("view", ""),
            body.get("cluster", ""),
            body.get("backend", ""),
            body.get("out", ""),
            body.get("notify"),
        )
        self.set_status(201)
        secret = getattr(run, "webhook_secret_shown", "")
        self.finish_json({**run.to_dict(), **({"webhook_secret": secret} if secret else {})})


class RunFormHandler(CygnetHandler):
    """GET /cygnet/api/runs/form?notebook=PATH: what the 'Run as batch job' dialog offers: the
    notebook's parameters (name, default, type, help), views, clusters and backends."""

    query_params = ("notebook",)

    @web.authenticated
    @authorized
    async def get(self):
        notebook = self.argument("notebook", "")
        if not notebook:
            raise web.HTTPError(400, "notebook is required")
        self.finish_json(await self.run_core(self.extensionapp.runs.form, notebook))


class RunHandler(CygnetHandler):
    """GET /cygnet/api/runs/{id}: the run with its progress and its log's tail. DELETE: cancel it."""

    @web.authenticated
    @authorized
    async def get(self, run_id):
        runs = self.extensionapp.runs
        run = await self.run_core(runs.get, run_id)
        notifications = await self.run_core(self.extensionapp.schedules_outbox.of_run, run.id, runs.owner)
        self.finish_json(
            {**run.to_dict(), "log_tail": await self.run_core(runs.log_tail, run), "notifications": notifications}
        )

    @web.authenticated
    @authorized
    async def delete(self, run_id):
        run = await self.run_core(self.extensionapp.runs.cancel, run_id)
        self.finish_json(run.to_dict())


RUN_ID = r"[0-9a-f]{12}"
default_handlers = [
    ("/cygnet/api/runs", RunsHandler),
    ("/cygnet/api/runs/form", RunFormHandler),
    (rf"/cygnet/api/runs/({RUN_ID})", RunHandler),
]
