"""HTTP faces of the opener: the progress page a link lands on, the event stream that does
the work, link building, nbgitpuller-compatible links, and the README badge."""

import asyncio
import json
import re
from urllib.parse import urlencode

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from jupyter_server.utils import url_escape, url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from cygnet.core.errors import CygnetError, as_http_error

from .. import session_access
from ..handlers import MAX_QUERY, CygnetHandler
from ..log_scrub import scrub_secrets
from .core import open_link
from .gitrepo import repository_of
from .links import BADGE_SVG, build_link

IGNORED = {"token", "_xsrf"}  # Jupyter's login token and the XSRF token may ride along in a query


def link_params(handler):
    return {k: handler.get_argument(k) for k in handler.request.arguments if k not in IGNORED}


class OpenPageHandler(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    """GET /cygnet/open?...: a page that shows the work's progress, then opens the result.
    Not logged in: Jupyter's login, then back to this same link."""

    auth_resource = "cygnet"

    def prepare(self):
        # The same limit as the API the page calls, so an over-long link is refused here, not
        # after the page has loaded.
        if len(self.request.query) > MAX_QUERY:
            raise web.HTTPError(
                414, f"the link is too long ({len(self.request.query)} characters; at most {MAX_QUERY})"
            )
        return super().prepare()

    @web.authenticated
    @authorized
    def get(self):
        session_access.check_owner(self, "open-by-link")  # it opens into the owner's workspace
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            self.render_template(
                "open.html",
                api=url_path_join(self.base_url, "cygnet", "api", "open"),
                lab=url_path_join(self.base_url, "lab"),
                script=self.static_url("open.js"),
                # An EventSource cannot send headers: under JupyterHub, a cookie-authenticated
                # request that is not a page load needs the XSRF token in its query.
                xsrf=self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else self.xsrf_token,
            )
        )


class OpenEventsHandler(CygnetHandler):
    """GET /cygnet/api/open?...: does the work, streaming server-sent events: `progress`
    ({line}) as it goes, then `done` ({path, url}) or `failed` ({message})."""

    query_params = None  # a link's parameters, checked as a link's

    @web.authenticated
    @authorized
    async def get(self):
        # Browsers label every request with where it comes from. The progress page's own stream
        # is same-origin; a cross-site page must not start clones in the background (an <img>
        # pointing here). Scripts send no such header and are unaffected.
        if self.request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise web.HTTPError(403, "links open through /cygnet/open, not from other sites' pages")
        # Bad parameters are answered as a `failed` event like every other failure: the progress
        # page's EventSource cannot read an error's body, and would only say the connection failed.
        params = link_params(self)
        loop = asyncio.get_running_loop()
        events = asyncio.Queue()

        def send(event, data):
            loop.call_soon_threadsafe(events.put_nowait, (event, data))

        def work():
            try:
                result = open_link(
                    params,
                    self.settings["server_root_dir"],
                    self.extensionapp.open_settings,
                    lambda line: send("progress", {"line": line}),
                )
                url = url_path_join(self.base_url, "lab", "tree", url_escape(result.path))
                send("done", {**result.to_dict(), "url": url})
            except CygnetError as e:
                send("failed", {"message": str(e)})
            except Exception as e:  # noqa: BLE001 - the stream must still end with an answer
                # Not the parameters: a share= link's token must not reach the log.
                self.log.error(
                    "cygnet: an open failed: %s", scrub_secrets(f"{type(e).__name__}: {e}"), exc_info=(type(e), e, None)
                )
                send("failed", {"message": "an internal error stopped the open; the server log has the details"})

        self.start_long("this open", work)  # 429 before the stream starts when too many run
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # let proxies pass events as they come
        while True:
            event, data = await events.get()
            if event == "done" and data.get("kernel"):
                data = await self._on_its_kernel(data)
            self.write(f"event: {event}\ndata: {json.dumps(data)}\n\n")
            try:
                await self.flush()
            except StreamClosedError:
                return  # the viewer left; the work finishes on its own, within its limits
            if event != "progress":
                break
        self.finish()

    async def _on_its_kernel(self, data):
        """A notebook opened with its repository's environment gets a session on that kernel, which
        JupyterLab joins when it opens the notebook (its own metadata is left as it is)."""
        path = data["path"]
        if not path.endswith(".ipynb"):
            return data
        try:
            sessions = self.session_manager
            existing = await sessions.get_session(path=path) if await sessions.session_exists(path=path) else None
            if existing and existing["kernel"]["name"] != data["kernel"]:
                await sessions.delete_session(existing["id"])
                existing = None
            if existing is None:
                await sessions.create_session(path=path, name=path, type="notebook", kernel_name=data["kernel"])
        except Exception as e:  # noqa: BLE001 - the notebook still opens; the user picks the kernel
            self.log.warning("cygnet: no session on %s for %s: %s", data["kernel"], path, e)
            return {**data, "warning": f"choose the kernel {data['kernel']} yourself: {e}"}
        return data


class LinkHandler(CygnetHandler):
    """GET /cygnet/link?repo=...&branch=...&path=...: the shareable URL and a Markdown badge.
    GET /cygnet/api/link?from=PATH: the same for the Git checkout in the workspace holding PATH."""

    query_params = None  # a link's parameters, checked as a link's

    @web.authenticated
    @authorized
    async def get(self):
        params = link_params(self)
        if "from" in params:
            params = await self.run_core(repository_of, self.settings["server_root_dir"], params["from"])
        try:
            self.finish_json(build_link(self.public_base(), params))
        except CygnetError as e:
            raise as_http_error(e) from e


class GitPullHandler(ExtensionHandlerMixin, JupyterHandler):
    """GET /git-pull?repo=...&branch=...&urlpath=...: nbgitpuller's links, opened by Cygnet
    (with its URL checks and limits) instead of nbgitpuller's own handler."""

    @web.authenticated
    def get(self):
        params = {
            "repo": self.get_argument("repo", ""),
            "branch": self.get_argument("branch", ""),
            "target": self.get_argument("targetpath", ""),
        }
        match = re.match(r"^/?(?:lab/|notebooks/)?tree/[^/]+/(.+)$", self.get_argument("urlpath", ""))
        if match:
            params["path"] = match.group(1)
        query = urlencode({k: v for k, v in params.items() if v})
        self.redirect(url_path_join(self.base_url, "cygnet", "open") + "?" + query)


class BadgeHandler(ExtensionHandlerMixin, JupyterHandler):
    """GET /cygnet/badge.svg: the 'open in Cygnet' badge READMEs show; public on purpose."""

    @allow_unauthenticated
    def get(self):
        self.set_header("Content-Type", "image/svg+xml")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(BADGE_SVG)


default_handlers = [
    ("/cygnet/api/open", OpenEventsHandler),
    ("/cygnet/open", OpenPageHandler),
    ("/cygnet/link", LinkHandler),
    ("/cygnet/api/link", LinkHandler),
    ("/cygnet/badge.svg", BadgeHandler),
    ("/git-pull", GitPullHandler),
]
