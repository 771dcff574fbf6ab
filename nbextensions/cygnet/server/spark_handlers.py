"""REST faces of the Spark connector under /cygnet/api/spark/: its configuration bundles and
known options, and managed Spark Connect servers."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .handlers import CygnetHandler


class SparkCatalogueHandler(CygnetHandler):
    """GET bundles[?cluster=NAME] | options: Spark's configuration bundles (those that apply to
    one of its clusters) and the options it knows. The clusters are the compute layer's
    (/cygnet/api/compute/clusters)."""

    co_editors = True  # read-only, and about what a co-editor works on

    query_params = ("cluster",)

    @web.authenticated
    @authorized
    async def get(self, what):
        catalogue = await self.run_core(self.extensionapp.catalogue)
        if what == "bundles":
            bundles = await self.run_core(catalogue.bundles_for, self.argument("cluster"), "spark")
            self.finish_json([b.to_dict() for b in bundles])
        else:
            self.finish_json(catalogue.known_options())


class SparkServersHandler(CygnetHandler):
    """GET: the managed Spark Connect servers. POST {cluster, bundles?, options?, view?}: start
    one for the view (default: the default view), whose Python its workers run (202; it is
    'starting' until it answers and has run a first job, then 'ready')."""

    @web.authenticated
    @authorized
    async def get(self):
        self.finish_json(await self.run_core(self.extensionapp.spark_servers.list))

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_value()
        manager = self.serverapp.kernel_spec_manager
        view = body.get("view") if isinstance(body, dict) else None
        if view is not None and not isinstance(view, str):
            raise web.HTTPError(400, "view must be a view's name, <release>/<platform>")
        environment = None
        if hasattr(manager, "view_environment"):  # Cygnet's kernel specs: the view's environment
            environment = await self.run_core(manager.view_environment, view or "")
        state = await self.run_core(self.extensionapp.spark_servers.start, body, environment)
        self.set_status(202)
        self.finish_json(state)


class SparkServerHandler(CygnetHandler):
    """GET: one server's state, URL, Spark UI and the last lines of its log. DELETE: stop it."""

    @web.authenticated
    @authorized
    async def get(self, server_id):
        self.finish_json(await self.run_core(self.extensionapp.spark_servers.get, server_id))

    @web.authenticated
    @authorized
    async def delete(self, server_id):
        await self.run_core(self.extensionapp.spark_servers.stop, server_id)
        self.set_status(204)
        self.finish()


SERVER_ID = r"[0-9a-f]{16}"
default_handlers = [
    ("/cygnet/api/spark/(bundles|options)", SparkCatalogueHandler),
    ("/cygnet/api/spark/servers", SparkServersHandler),
    (rf"/cygnet/api/spark/servers/({SERVER_ID})", SparkServerHandler),
]
