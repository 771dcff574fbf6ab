"""A real `cygnet hub` (JupyterHub + configurable-http-proxy) on loopback, and a browser-like
client that logs in and spawns through the form, as a person does."""

import os
import re
import signal
import time
from pathlib import Path

import requests

from tests.support.jupyter import VENV_BIN, free_port
from tests.support.service import Service


class Hub(Service):
    what = "the hub"

    def __init__(self, data_dir, env=None, args=()):
        self.data_dir = Path(data_dir)
        self.env = {**os.environ, **(env or {}), "CYGNET_DATA_DIR": str(self.data_dir), "PYTHONFAULTHANDLER": "1"}
        self.args = list(args)
        self.proc = None
        self._on_port(free_port())

    def _on_port(self, port):
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [str(VENV_BIN / "cygnet"), "hub", "--ip=127.0.0.1", f"--port={self.port}", *self.args]
        self.log_path = self.data_dir.parent / f"hub-{self.port}.log"

    def start(self, timeout=90, tries=3):
        """Start it and wait until it answers. Another test's server can take a port picked for the
        hub (its own, or one `cygnet hub` picks for its API, proxy or services) before the hub binds
        it (met in CI): the hub exits, and starts again on new ports."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(tries):
            try:
                return self.launch(timeout, poll=0.3)
            except RuntimeError as e:
                if attempt == tries - 1 or "Address already in use" not in str(e):
                    raise
            self._log.close()
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its proxy and services, if they started
            except ProcessLookupError:
                pass
            self._on_port(free_port())

    def ready(self):
        return requests.get(f"{self.url}/hub/login", timeout=2).status_code == 200

    def stop(self):
        self.stop_process(30)
        if self.proc:
            self._log.close()

    @property
    def password(self):
        return (self.data_dir / "hub" / "password").read_text().strip()

    def login(self, user, password=None):
        """A logged-in browser session for `user`."""
        http = requests.Session()
        page = http.get(f"{self.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        r = http.post(
            f"{self.url}/hub/login",
            data={"username": user, "password": password or self.password, "_xsrf": xsrf},
            timeout=30,
            allow_redirects=False,
        )
        if r.status_code != 302:
            raise RuntimeError(f"login of {user} failed: {r.status_code}")
        return http

    def spawn_form(self, http, server=""):
        """The form page and the URL it posts to (`server`: "<user>/<name>" of a named server)."""
        page = http.get(f"{self.url}/hub/spawn" + (f"/{server}" if server else ""), timeout=60)
        action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        return page, (self.url + action.group(1).replace("&amp;", "&")) if action else None

    def spawn(self, http, options, timeout=120):
        """Submit the form; wait for the session to answer. Returns the form POST's response."""
        _, action = self.spawn_form(http)
        r = http.post(action, data=options, timeout=timeout, allow_redirects=False)
        return r

    def wait_ready(self, http, user, timeout=120):
        """Wait for the session, then open it as a browser does (the OAuth round trip through
        the hub sets the session's cookie), so its API answers this client."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = http.get(f"{self.url}/user/{user}/api/status", timeout=10, allow_redirects=False)
            if r.status_code == 200:
                return
            if r.status_code == 403:  # up, but this client has no cookie for it yet
                http.get(f"{self.url}/user/{user}/lab", timeout=30)
                continue
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s session did not answer within {timeout} s:\n{self.log()[-3000:]}")

    def user_get(self, http, user, path):
        return http.get(f"{self.url}/user/{user}{path}", timeout=60)

    def token(self, http, user):
        """A new API token of `user` (made through the hub's REST API, as the token page does)."""
        xsrf = http.cookies.get("_xsrf", path="/hub/")
        r = http.post(
            f"{self.url}/hub/api/users/{user}/tokens", json={"note": "test"}, headers={"X-XSRFToken": xsrf}, timeout=30
        )
        if r.status_code != 201:
            raise RuntimeError(f"no token for {user}: {r.status_code} {r.text}")
        return r.json()["token"]

    def api(self, token):
        """A client that calls the hub, the sessions and the services with `token`."""
        http = requests.Session()
        http.headers["Authorization"] = f"token {token}"
        return http

    def start_session(self, http, user, options, timeout=120):
        """Spawn `user`'s session through the form unless it runs; wait until it answers."""
        _, action = self.spawn_form(http)
        if action:
            r = http.post(action, data=options, timeout=timeout, allow_redirects=False)
            if r.status_code != 302:
                raise RuntimeError(f"{user}'s spawn was refused: {r.status_code} {r.text[-500:]}")
        self.wait_ready(http, user, timeout)

    def stop_session(self, api, user, timeout=60):
        xsrf = api.cookies.get("_xsrf", path="/hub/")  # a browser's session; a token needs none
        headers = {"X-XSRFToken": xsrf} if xsrf else {}
        r = api.delete(f"{self.url}/hub/api/users/{user}/server", headers=headers, timeout=timeout)
        if r.status_code not in (202, 204):
            raise RuntimeError(f"{user}'s session did not stop: {r.status_code} {r.text}")
        deadline = time.monotonic() + timeout
        while api.get(f"{self.url}/hub/api/users/{user}", timeout=60).json()["servers"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user}'s session still runs after {timeout} s")
            time.sleep(0.5)

    def kernel(self, user, token, name):
        """A kernel started in `user`'s session (through the proxy, with `token`), and its client."""
        from types import SimpleNamespace

        from tests.support.jupyter import KernelClient

        api, base = self.api(token), f"{self.url}/user/{user}"
        r = api.post(f"{base}/api/kernels", json={"name": name}, timeout=120)
        if r.status_code != 201:
            raise RuntimeError(f"{user}'s kernel {name} did not start: {r.status_code} {r.text}")
        session = SimpleNamespace(
            port=self.port,
            token=token,
            base_path=f"/user/{user}",
            delete=lambda path: api.delete(base + path, timeout=60),
        )
        return KernelClient(session, r.json()["id"])
