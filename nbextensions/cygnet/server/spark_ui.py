"""The Spark UI through the server: GET /cygnet/spark-ui/{port}/... proxies a Spark driver's UI
(on this machine) behind Jupyter's login, so the panel's UI link works from a browser that
cannot reach the driver's port (a container, a hub, a remote user). jupyter-server-proxy's
handler does the proxying; Cygnet only narrows it to the UI ports of this server's own
sessions: the Spark port range kernels lease from, which under the hub is this user's own
slice, and the UI ports of this user's managed Spark Connect servers (recorded in their own
data dir), so one user's server never reaches another's UI. Each request tells Spark where it is
served (X-Forwarded-Context, which Spark's UI puts in front of its links and redirects), so
the UI's links stay inside the route."""

from urllib.parse import urlsplit, urlunsplit

from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import LocalProxyHandler
from tornado import web

from cygnet.core.errors import BadInput


class SessionPortProxy(ExtensionHandlerMixin, LocalProxyHandler):
    """jupyter-server-proxy's handler, behind Cygnet's login, for ports `_check_port` allows."""

    auth_resource = "cygnet"

    def proxy(self, port, proxied_path):
        self._check_port(port)
        return super().proxy(port, proxied_path)

    async def open(self, port, proxied_path):
        self._check_port(port)
        return await super().open(port, proxied_path)

    def _check_port(self, port):
        raise NotImplementedError


class SparkUIHandler(SessionPortProxy):
    def _check_port(self, port):
        managed = {s.get("ui_port") for s in self.extensionapp.spark_servers.list()}
        check_session_port(self.extensionapp, port, "a Spark UI", also=managed)
        self.proxy_base = f"cygnet/spark-ui/{port}"

    def proxy_request_headers(self):
        headers = super().proxy_request_headers()
        headers["X-Forwarded-Context"] = url_path_join(self.base_url, self.proxy_base)
        # The UI answers only requests signed with the session's key (cygnet.spark.ui_auth).
        headers["Authorization"] = self.extensionapp.spark_ui_bearer
        return headers

    def _rewrite_location_header(self, location, host, port, proxied_path):
        # Spark redirects by full address, made from the Host it was sent (this server's, or its
        # own): make that a path, which the proxy then puts under the route; paths that already
        # start with the route (from X-Forwarded-Context) are left alone.
        parsed = urlsplit(location)
        if parsed.netloc in (self.request.host, f"127.0.0.1:{port}", f"localhost:{port}"):
            location = urlunsplit(("", "", parsed.path or "/", parsed.query, parsed.fragment))
        if location.startswith(url_path_join(self.base_url, self.proxy_base)):
            return location
        return super()._rewrite_location_header(location, host, port, proxied_path)


def check_session_port(extensionapp, port, what, also=()):
    """A 404 unless `port` is one this server's kernels lease theirs from (the site's Spark port
    range; under the hub, this user's slice of it; or a port leased outside it when the slice was
    taken) or one of `also`, and what listens there is this account's: the session's key is only
    ever sent to the session's own servers, never to another user's listener in its range."""
    from cygnet.compute.kernel_env import ports_dir_of
    from cygnet.compute.ports import leased_outside, parse_range
    from cygnet.core.listeners import owned_by_me

    try:
        low, high = parse_range(extensionapp.cygnet.spark_port_range)
    except BadInput as e:
        raise web.HTTPError(503, str(e)) from None
    port = int(port)
    if not (low <= port <= high or port in also or leased_outside(port, ports_dir_of(extensionapp.cygnet))):
        raise web.HTTPError(404, f"port {port} is not {what} of this server's sessions")
    if not owned_by_me(port):
        raise web.HTTPError(404, f"nothing of this session listens on port {port} (is {what} still running?)")


default_handlers = [(r"/cygnet/spark-ui/(\d+)(.*)", SparkUIHandler)]
