"""The Dask dashboard through the server: GET /cygnet/dask-dashboard/{port}/... proxies a local
Dask cluster's dashboard (bokeh, on this machine) behind Jupyter's login, as the Spark UI route
does and with the same narrowing: only ports of the lease range this server's kernels take
their ports from (the kernel leases the dashboard's port there, see cygnet.dask.session), so
one user's server never reaches another's dashboard. The dashboard's links are relative, and
its live plots are websockets, which jupyter-server-proxy carries. JupyterLab's Dask panels
(dask-labextension) read the same address from `client.dashboard_link`; its server side checks
an address by fetching `individual-plots.json` there without the user's cookies, so that one
document (a fixed list of plot names, no data) is answered without a login."""

from jupyter_server.base.handlers import JupyterHandler

from cygnet.dask.private import HEADER as SESSION_HEADER

from .spark_ui import SessionPortProxy, check_session_port


class DaskDashboardHandler(SessionPortProxy):
    async def prepare(self, *args, **kwargs):
        if self.request.method == "GET" and self.request.path.endswith("/individual-plots.json"):
            prepared = JupyterHandler.prepare(self, *args, **kwargs)  # no login for the plot list
            if prepared is not None:
                await prepared
            return
        await super().prepare(*args, **kwargs)

    def _check_port(self, port):
        check_session_port(self.extensionapp, port, "a Dask dashboard")

    def proxy_request_headers(self):
        headers = super().proxy_request_headers()
        headers[SESSION_HEADER] = self.extensionapp.session_key  # the dashboard's gate (cygnet.dask.private)
        return headers


default_handlers = [(r"/cygnet/dask-dashboard/(\d+)(.*)", DaskDashboardHandler)]
