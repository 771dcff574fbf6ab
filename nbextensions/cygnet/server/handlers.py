"""REST handlers: thin faces over the cores. They sit behind Jupyter's login and XSRF checks
(APIHandler) and reach the extension's shared state as `self.extensionapp` (app.CygnetApp);
every one parses its input, calls a core through `run_core` (quick work) or
`start_long` (opens and syncs, see `work`), and answers JSON. Cores validate and raise
CygnetErrors, which reach the client with their own status and message."""

import json
import os
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from cygnet.core import checks
from cygnet.core.errors import BadInput, CygnetError, as_http_error
from cygnet.core.identity import current_user

from . import session_access

MAX_QUERY = 8192  # characters of a request's query string


class CygnetHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = "cygnet"
    # The query parameters this handler reads; any other is refused with a 400 (Jupyter's own
    # token and _xsrf, and JupyterLab's cache-busting timestamp, always pass). None: the handler
    # checks its parameters itself.
    query_params: tuple[str, ...] | None = ()
    # Whether a colleague the owner shared the session with may call it (see session_access):
    # off for everything that acts with the owner's credentials or on the owner's records.
    co_editors = False

    async def prepare(self):
        if len(self.request.query) > MAX_QUERY:
            raise web.HTTPError(
                414, f"the query is too long ({len(self.request.query)} characters; at most {MAX_QUERY})"
            )
        if self.query_params is not None:
            # JupyterLab adds a bare timestamp (?1795466...) to GETs so no cache answers them.
            asked = {name for name in self.request.query_arguments if not name.isdigit()}
            unknown = sorted(asked - set(self.query_params) - {"token", "_xsrf"})
            if unknown:
                raise web.HTTPError(400, f"unknown query parameter(s): {', '.join(unknown)[:200]}")
        await super().prepare()  # finds the current user
        if not self.co_editors:
            session_access.check_owner(self, "this part of Cygnet")

    def write_error(self, status_code, **kwargs):
        if status_code == 405:  # RFC 9110: say which methods this path has
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        return super().write_error(status_code, **kwargs)

    @classmethod
    def allowed_methods(cls):
        return [
            m.upper()
            for m in ("get", "post", "put", "patch", "delete")
            if getattr(cls, m) is not getattr(web.RequestHandler, m)
        ]

    async def run_core(self, function, *args, timeout=60):
        """Run a blocking core function on the quick pool (never behind clones and syncs),
        mapping its errors to HTTP. A core that hangs (a stuck network file system under a
        views root) gets a 503 after `timeout` seconds instead of a request that never ends."""
        try:
            return await self.extensionapp.work.quick(function, *args, timeout=timeout)
        except CygnetError as e:
            raise as_http_error(e) from e

    def start_long(self, what, function, *args):
        """Start long work (a clone, a download, a sync) on the long pool; 429 when the user
        already has as many under way as the site allows. Returns a concurrent Future."""
        try:
            return self.extensionapp.work.submit_long(current_user(), what, function, *args)
        except CygnetError as e:
            raise as_http_error(e) from e

    def json_value(self):
        """The request's body as JSON (None if empty); 400 if it is not valid JSON in UTF-8."""
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):  # RecursionError: nested past what json parses
            raise web.HTTPError(400, "the body is not valid JSON (in UTF-8)") from None

    def json_body(self, allowed, required=()):
        """The request's JSON object, with only `allowed` keys and every `required` one (400 otherwise)."""
        body = self.json_value()
        try:
            return checks.body(body, allowed, required)
        except BadInput as e:
            raise as_http_error(e) from e

    def argument(self, name, default=None):
        """A query argument, checked as text (no control characters, bounded length)."""
        value = self.get_argument(name, default)
        try:
            return checks.text(value, name, required=False, allow_empty=True)
        except BadInput as e:
            raise as_http_error(e) from e

    def public_base(self):
        """The service's public address for links: Cygnet.link_base_url, else this request's.
        Under a hub, links go through /hub/user-redirect/, so they open in whoever's session
        follows them (through login and spawn), not in this user's."""
        if self.extensionapp.cygnet.link_base_url:
            return self.extensionapp.cygnet.link_base_url
        return f"{self.public_origin()}{hub_redirect_path() or self.base_url}"

    def public_origin(self):
        """scheme://host[:port] of public links: Cygnet.link_base_url's, else this request's."""
        configured = urlsplit(self.extensionapp.cygnet.link_base_url)
        if configured.netloc:
            return f"{configured.scheme}://{configured.netloc}"
        return f"{self.request.protocol}://{self.request.host}"

    def finish_json(self, data):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


class ViewsHandler(CygnetHandler):
    """GET /cygnet/api/views: every view found, usable or not (with the reason), with its
    kernels: its Python first, then those it ships (each with its kernel name and whether it
    can start)."""

    co_editors = True

    @web.authenticated
    @authorized
    async def get(self):
        from cygnet.kernels.specs import view_kernels

        views = await self.run_core(self.extensionapp.list_views)
        self.finish_json([{**v.to_dict(), "kernels": view_kernels(v)} for v in views])


def hub_redirect_path():
    """/<hub base>/hub/user-redirect/ when this server was spawned by JupyterHub, else None."""
    if not os.environ.get("JUPYTERHUB_USER"):
        return None
    return os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/user-redirect/"


class GenericProxyOffHandler(ExtensionHandlerMixin, JupyterHandler):
    """jupyter-server-proxy's generic port routes (/proxy/<port>/, /proxy/<host>:<port>/),
    answered 404 where the site switched them off (Cygnet.generic_port_proxy)."""

    def prepare(self, *args, **kwargs):
        raise web.HTTPError(404, "the generic /proxy/ routes are off on this site (Cygnet.generic_port_proxy)")


# Routes under the server's base URL, collected by CygnetApp (as jupyter_server's services do).
default_handlers = [("/cygnet/api/views", ViewsHandler)]
