"""REST handlers: thin faces over the cores. They sit behind Jupyter's login and XSRF checks
(APIHandler), and report CygnetErrors with their own status and message."""

import asyncio
import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from cygnet.core.errors import CygnetError, as_http_error


class CygnetHandler(APIHandler):
    auth_resource = "cygnet"

    async def run_core(self, function, *args, timeout=60):
        """Run a blocking core function off the event loop, mapping its errors to HTTP.
        A core that hangs (a stuck network file system under a views root) gets a 504 after
        `timeout` seconds instead of a request that never ends."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(function, *args), timeout)
        except CygnetError as e:
            raise as_http_error(e) from e
        except asyncio.TimeoutError:
            raise web.HTTPError(504, f"no answer within {timeout} s: is a file system Cygnet reads hung?") from None

    def finish_json(self, data):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


class ViewsHandler(CygnetHandler):
    """GET /cygnet/api/views: every view found, usable or not (with the reason)."""

    @web.authenticated
    @authorized
    async def get(self):
        views = await self.run_core(self.settings["cygnet_list_views"])
        self.finish_json([v.to_dict() for v in views])
