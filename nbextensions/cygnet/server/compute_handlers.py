"""REST face of the compute layer under /cygnet/api/compute/: the site's clusters of every
engine (Spark's and Dask's), which the compute panel lists."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .handlers import CygnetHandler


class ClustersHandler(CygnetHandler):
    """GET: every cluster of the catalogue, each with its engine; `default` marks the one the
    panel starts on (the session's choice)."""

    co_editors = True  # read-only, and about what a co-editor works on

    @web.authenticated
    @authorized
    async def get(self, *_):
        catalogue = await self.run_core(self.extensionapp.catalogue)
        chosen = self.extensionapp.cygnet.spark_default_cluster
        self.finish_json([{**c.to_dict(), "default": c.name == chosen} for c in catalogue.clusters])


default_handlers = [
    ("/cygnet/api/compute/clusters", ClustersHandler),
    # The old route, from when Spark's panel listed every engine's clusters.
    ("/cygnet/api/spark/(clusters)", ClustersHandler),
]
