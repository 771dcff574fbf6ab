"""What the REST APIs of Cygnet's hub services (cygnet-shares, cygnet-runs) answer alike: JSON,
errors too, never cached, and hub tokens only (no cookies, so nothing a foreign page could
forge needs an XSRF check)."""

import json

from jupyterhub.services.auth import HubAuthenticated
from tornado import web


class ServiceApiHandler(HubAuthenticated, web.RequestHandler):
    def check_xsrf_cookie(self):
        pass  # tokens only

    def finish_json(self, data, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.finish_json({"message": message}, status_code)
