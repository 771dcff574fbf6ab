"""HTTP faces of the opener: the progress page a link lands on, the event stream that does
the work, link building, nbgitpuller-compatible links, and the README badge."""

import asyncio
import html
import json
import re
from urllib.parse import urlencode

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_escape, url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from cygnet.core.errors import CygnetError, as_http_error

from ..handlers import CygnetHandler
from ..log_scrub import scrub_secrets
from .core import open_link
from .gitrepo import repository_of
from .links import BADGE_SVG, build_link

IGNORED = {"token"}  # Jupyter's login token may ride along in a link's query


def link_params(handler):
    return {k: handler.get_argument(k) for k in handler.request.arguments if k not in IGNORED}


class OpenPageHandler(JupyterHandler):
    """GET /cygnet/open?...: a page that shows the work's progress, then opens the result.
    Not logged in: Jupyter's login, then back to this same link."""

    auth_resource = "cygnet"

    @web.authenticated
    @authorized
    def get(self):
        api = url_path_join(self.base_url, "cygnet", "api", "open")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(OPEN_PAGE.replace("{{api}}", html.escape(api, quote=True))
                    .replace("{{lab}}", html.escape(url_path_join(self.base_url, "lab"), quote=True)))


class OpenEventsHandler(CygnetHandler):
    """GET /cygnet/api/open?...: does the work, streaming server-sent events: `progress`
    ({line}) as it goes, then `done` ({path, url}) or `failed` ({message})."""

    @web.authenticated
    @authorized
    async def get(self):
        # Browsers label every request with where it comes from. The progress page's own stream
        # is same-origin; a cross-site page must not start clones in the background (an <img>
        # pointing here). Scripts send no such header and are unaffected.
        if self.request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise web.HTTPError(403, "links open through /cygnet/open, not from other sites' pages")
        params = link_params(self)
        loop = asyncio.get_running_loop()
        events = asyncio.Queue()

        def send(event, data):
            loop.call_soon_threadsafe(events.put_nowait, (event, data))

        def work():
            try:
                result = open_link(params, self.settings["server_root_dir"], self.settings["cygnet_open_settings"],
                                   lambda line: send("progress", {"line": line}))
                url = url_path_join(self.base_url, "lab", "tree", url_escape(result.path))
                send("done", {**result.to_dict(), "url": url})
            except CygnetError as e:
                send("failed", {"message": str(e)})
            except Exception as e:  # noqa: BLE001 - the stream must still end with an answer
                # Not the parameters: a share= link's token must not reach the log.
                self.log.error("cygnet: an open failed: %s", scrub_secrets(f"{type(e).__name__}: {e}"),
                               exc_info=(type(e), e, None))
                send("failed", {"message": "an internal error stopped the open; the server log has the details"})

        self.start_long("this open", work)  # 429 before the stream starts when too many run
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # let proxies pass events as they come
        while True:
            event, data = await events.get()
            self.write(f"event: {event}\ndata: {json.dumps(data)}\n\n")
            try:
                await self.flush()
            except StreamClosedError:
                return  # the viewer left; the work finishes on its own, within its limits
            if event != "progress":
                break
        self.finish()


class LinkHandler(CygnetHandler):
    """GET /cygnet/link?repo=...&branch=...&path=...: the shareable URL and a Markdown badge.
    GET /cygnet/api/link?from=PATH: the same for the Git checkout in the workspace holding PATH."""

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


class GitPullHandler(JupyterHandler):
    """GET /git-pull?repo=...&branch=...&urlpath=...: nbgitpuller's links, opened by Cygnet
    (with its URL checks and limits) instead of nbgitpuller's own handler."""

    @web.authenticated
    def get(self):
        params = {"repo": self.get_argument("repo", ""), "branch": self.get_argument("branch", ""),
                  "target": self.get_argument("targetpath", "")}
        match = re.match(r"^/?(?:lab/|notebooks/)?tree/[^/]+/(.+)$", self.get_argument("urlpath", ""))
        if match:
            params["path"] = match.group(1)
        query = urlencode({k: v for k, v in params.items() if v})
        self.redirect(url_path_join(self.base_url, "cygnet", "open") + "?" + query)


class BadgeHandler(JupyterHandler):
    """GET /cygnet/badge.svg: the 'open in Cygnet' badge READMEs show; public on purpose."""

    @allow_unauthenticated
    def get(self):
        self.set_header("Content-Type", "image/svg+xml")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(BADGE_SVG)


OPEN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Opening in Cygnet</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
 h1 { font-size: 1.3rem; } #state.failed { color: #b00020; } #state.done { color: #1f6f2a; }
 pre { background: #f4f4f4; padding: 1rem; max-height: 60vh; overflow: auto; white-space: pre-wrap; }
</style></head>
<body data-api="{{api}}" data-lab="{{lab}}">
<h1>Cygnet</h1>
<p id="state">Starting&hellip;</p>
<pre id="log"></pre>
<script>
(function () {
  var api = document.body.dataset.api, lab = document.body.dataset.lab;
  var state = document.getElementById('state'), log = document.getElementById('log'), finished = false;
  function show(text, kind) { state.textContent = text; state.className = kind || ''; }
  function append(line) { log.textContent += line + '\\n'; log.scrollTop = log.scrollHeight; }
  var source = new EventSource(api + window.location.search);
  show('Working\\u2026');
  source.addEventListener('progress', function (e) { append(JSON.parse(e.data).line); });
  source.addEventListener('done', function (e) {
    finished = true; source.close();
    var data = JSON.parse(e.data);
    if (data.backup) {
      // The user's copy was moved aside: say so, and let them read it before going on.
      show('Your previous copy could not be merged and was moved, whole, to ' + data.backup.folder +
           '. See the list below; then open ' + data.path + '.', 'failed');
      append('only in ' + data.backup.folder + ': ' + (data.backup.only_in_backup.join(', ') || 'nothing'));
      append('your version differs from upstream\u2019s: ' + (data.backup.differ.join(', ') || 'nothing'));
      var go = document.createElement('a');
      go.textContent = 'Open ' + data.path; go.href = data.url; go.id = 'go';
      state.appendChild(document.createElement('br')); state.appendChild(go);
      return;
    }
    if (data.kept_yours && data.kept_yours.length) {
      append('changed both here and upstream, your edits kept: ' + data.kept_yours.join(', '));
    }
    show('Opening ' + data.path + '\\u2026', 'done');
    if (data.url.indexOf(lab) === 0) { window.location.replace(data.url); }
  });
  source.addEventListener('failed', function (e) {
    finished = true; source.close();
    show('Could not open this link: ' + JSON.parse(e.data).message, 'failed');
  });
  source.onerror = function () {
    if (!finished) { source.close(); show('The connection to the server was lost.', 'failed'); }
  };
})();
</script>
</body></html>
"""
