"""REST faces of batch runs (the core is cygnet.runs.service): submit a notebook, list and follow
your runs, cancel one, compare two, run one on two views to compare them."""

from urllib.parse import urlencode

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core import checks
from cygnet.core.errors import BadInput, as_http_error
from cygnet.runs.compare import Tolerance

from .handlers import CygnetHandler

FIELDS = ("notebook", "parameters", "view", "cluster", "backend", "out", "notify")
CHECK_FIELDS = ("notebook", "views", "parameters", "cluster", "backend", "notify")


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
        _check_texts(body, ("notebook", "view", "cluster", "backend", "out"))
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


class RunCompareHandler(CygnetHandler):
    """GET /cygnet/api/runs/compare?a=ID&b=ID[&rel_tol=X][&abs_tol=Y]: two ended runs' results
    cell by cell (same, close: numbers within the tolerance, differs), their parameters, views
    and durations, and `diff_url`: nbdime's side-by-side diff of the two notebooks."""

    query_params = ("a", "b", "rel_tol", "abs_tol")

    @web.authenticated
    @authorized
    async def get(self):
        ids = [self.argument(name, "") for name in ("a", "b")]
        if not all(ids):
            raise web.HTTPError(400, "a and b are required: the ids of the two runs to compare")
        try:
            tolerance = Tolerance.checked(*(_number(self.argument(n, "0"), n) for n in ("rel_tol", "abs_tol")))
        except BadInput as e:
            raise as_http_error(e) from e
        report = await self.run_core(self.extensionapp.runs.compare, *ids, tolerance)
        self.finish_json({**report, "diff_url": self._diff_url(report)})

    def _diff_url(self, report):
        if "nbdime" not in self.serverapp.extension_manager.extension_points:
            return None  # nbdime's server extension is off here: the cell report stands alone
        query = urlencode({"base": report["a"]["output"], "remote": report["b"]["output"]})
        return f"{self.base_url}nbdime/difftool?{query}"


class CheckViewsHandler(CygnetHandler):
    """POST /cygnet/api/runs/check-views {notebook, views: [OLD, NEW], parameters?, cluster?,
    backend?, notify?}: 201 {runs: [on OLD, on NEW]}, the same notebook with the same parameters
    on both views; compare them (runs/compare) once both have ended."""

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(CHECK_FIELDS, required=("notebook", "views"))
        _check_texts(body, ("notebook", "cluster", "backend"))
        runs = await self.run_core(
            self.extensionapp.runs.check_views,
            body["notebook"],
            body["views"],
            body.get("parameters") or {},
            body.get("cluster", ""),
            body.get("backend", ""),
            body.get("notify"),
        )
        self.set_status(201)
        self.finish_json({"runs": [run.to_dict() for run in runs]})


def _check_texts(body, names):
    """Each of `names` in `body` is text (the notebook required, the rest may be empty); 400 otherwise."""
    try:
        for name in names:
            checks.text(body.get(name, ""), name, required=name == "notebook", allow_empty=name != "notebook")
    except BadInput as e:
        raise as_http_error(e) from e


def _number(text, name):
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"{name} must be a number, 0 or more") from None


RUN_ID = r"[0-9a-f]{12}"
default_handlers = [
    ("/cygnet/api/runs", RunsHandler),
    ("/cygnet/api/runs/form", RunFormHandler),
    ("/cygnet/api/runs/compare", RunCompareHandler),
    ("/cygnet/api/runs/check-views", CheckViewsHandler),
    (rf"/cygnet/api/runs/({RUN_ID})", RunHandler),
]
