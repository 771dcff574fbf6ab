"""A real Jupyter server in a subprocess, and a small REST + websocket client for it.

Used by the tests and by bench/, so both drive the service exactly as JupyterLab does.
"""

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import websocket

from cygnet.core.loopback import free_port
from tests.support.service import Service

VENV_BIN = Path(sys.executable).parent


class JupyterServer(Service):
    """`cygnet up` (or any command line) on a free loopback port, with a known token.

    Every server's log path and every share token a server hands out are remembered
    (`logs`, `share_tokens`), so the suite can check at its end that no log holds a token."""

    logs = []
    share_tokens = set()
    log_dir = None  # one private folder for every server log of this process (log_dir())

    def __init__(self, env=None, args=(), root=None, command=None, log_path=None):
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"cygnet-server-{self.port}-", suffix=".log", dir=log_dir())
            os.close(fd)
        self.log_path = Path(log_path)
        JupyterServer.logs.append(self.log_path)
        base = command or [str(VENV_BIN / "cygnet"), "up", "--no-browser"]
        self.cmd = [*base, "--ip=127.0.0.1", f"--port={self.port}", *args]
        self.root = Path(root) if root else None
        if root:
            self.cmd.append(f"--ServerApp.root_dir={root}")
        # PYTHONFAULTHANDLER: a server that will not stop shows where it is stuck (Service.stop_process).
        self.env = {**os.environ, **(env or {}), "JUPYTER_TOKEN": self.token, "PYTHONFAULTHANDLER": "1"}
        self.data_dir = Path(self.env["CYGNET_DATA_DIR"]) if self.env.get("CYGNET_DATA_DIR") else None
        self.proc = None
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {self.token}"

    def start(self, timeout=120):
        return self.launch(timeout)

    def ready(self):
        return self.http.get(f"{self.url}/api/status", timeout=2).status_code == 200

    def stop(self):
        self.stop_process(20, group=False)
        if self.proc:
            self._log.close()

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- REST -------------------------------------------------------------------------
    def get(self, path, **kw):
        return self.http.get(self.url + path, timeout=60, **kw)

    def post(self, path, **kw):
        r = self.http.post(self.url + path, timeout=300, **kw)
        if path.startswith("/cygnet/api/shares") and r.status_code == 201:
            JupyterServer.share_tokens.add(r.json()["token"])
        return r

    def delete(self, path, **kw):
        return self.http.delete(self.url + path, timeout=60, **kw)

    def terminal(self, command, marker, timeout=30, body=None):
        """Run `command` in a new terminal (REST + websocket, as JupyterLab does; `body` is the
        creation request's); the output up to and including a line holding `marker`."""
        r = self.post("/api/terminals", json=body or {})
        assert r.status_code == 200, f"no terminal: {r.status_code} {r.text}"
        name = r.json()["name"]
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/terminals/websocket/{name}",
            header=[f"Authorization: token {self.token}"],
            timeout=timeout,
        )
        try:
            ws.send(json.dumps(["stdin", command + "\r"]))
            out, deadline = "", time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = json.loads(ws.recv())
                if message[0] == "stdout":
                    out += message[1]
                    if any(marker in line and command not in line for line in out.splitlines()):
                        return out
            raise TimeoutError(f"no {marker!r} from the terminal: {out[-500:]}")
        finally:
            ws.close()
            self.delete(f"/api/terminals/{name}")

    def events(self, path, params, timeout=300):
        """GET a server-sent event stream to its end: a list of (event, data) pairs."""
        events, event, data = [], "message", []
        with self.http.get(self.url + path, params=params, stream=True, timeout=timeout) as r:
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.text}")
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    events.append((event, json.loads("\n".join(data))))
                    event, data = "message", []
        return events

    def start_kernel(self, name):
        """POST /api/kernels; returns the response (201 with the model, or the error)."""
        return self.post("/api/kernels", json={"name": name})

    def kernel(self, name):
        """A started kernel's client; raises with the server's message if it cannot start."""
        r = self.start_kernel(name)
        if r.status_code != 201:
            raise RuntimeError(f"kernel {name} did not start: {r.status_code} {r.text}")
        return KernelClient(self, r.json()["id"])


def time_to_first_reply(server, name, code="pass"):
    """Seconds from POST /api/kernels to the reply of the first `code` run: a kernel's start as
    a user feels it (for benchmarks)."""
    started = time.perf_counter()
    r = server.start_kernel(name)
    if r.status_code != 201:
        raise RuntimeError(f"kernel {name} did not start: {r.text}")
    kernel = KernelClient(server, r.json()["id"])
    status, _, err = kernel.execute(code)
    elapsed = time.perf_counter() - started
    kernel.shutdown()
    if status != "ok":
        raise RuntimeError(f"kernel {name} failed: {err}")
    return elapsed


class KernelClient:
    """Executes code in a kernel over the server's websocket, as JupyterLab does."""

    def __init__(self, server, kernel_id):
        self.server, self.id = server, kernel_id
        self.session = uuid.uuid4().hex
        self.inbox = []  # comm messages that arrived while waiting for something else
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}{getattr(server, 'base_path', '')}/api/kernels/{kernel_id}"
            f"/channels?session_id={self.session}",
            header=[f"Authorization: token {server.token}"],
            timeout=120,
        )

    def execute(self, code, timeout=120):
        """Run `code`; returns (status, stdout text, error text or '')."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        out, err, status, idle = [], "", None, False
        self.displays = []  # display_data and update_display_data contents of this request
        self.stdout = []  # only the stdout stream: child processes (Dask workers) share the kernel's stderr
        deadline = time.monotonic() + timeout
        # The reply (shell) can overtake the output (iopub): done when both the reply and the
        # kernel's return to idle for this request have arrived.
        while time.monotonic() < deadline and not (status and idle):
            msg = json.loads(self.ws.recv())
            if msg["msg_type"] == "comm_msg":
                self.inbox.append(msg)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
                if content.get("name") == "stdout":
                    self.stdout.append(content["text"])
            elif kind == "error":
                err = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_result":
                out.append(content["data"].get("text/plain", ""))
            elif kind in ("display_data", "update_display_data"):
                self.displays.append(content)
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        if not (status and idle):
            raise TimeoutError(f"no complete answer within {timeout} s")
        return status, "".join(out), err

    def run(self, code, timeout=120, stdout_only=False):
        """Run `code` and return its output (stdout and stderr, or only stdout); fail with the
        kernel's error if it raised."""
        status, out, err = self.execute(code, timeout)
        if status != "ok":
            raise AssertionError(f"kernel error: {err}\n{out}")
        return "".join(self.stdout) if stdout_only else out

    def comm_open(self, target, data=None):
        """Open a comm to `target` in the kernel, as a front end does; returns its id."""
        comm_id = uuid.uuid4().hex
        self._send_shell("comm_open", {"comm_id": comm_id, "target_name": target, "data": data or {}})
        return comm_id

    def comm_send(self, comm_id, data):
        self._send_shell("comm_msg", {"comm_id": comm_id, "data": data})

    def comm_messages(self, comm_id, until, timeout=120):
        """The comm's messages (their data) up to and including the first for which `until(data)`."""
        received, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inbox:
                msg = self.inbox.pop(0)
            else:
                self.ws.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    msg = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    break
            if msg["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id:
                received.append(msg["content"]["data"])
                if until(msg["content"]["data"]):
                    return received
        raise TimeoutError(f"comm {comm_id}: no closing message within {timeout} s; got {received}")

    def _send_shell(self, msg_type, content):
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": uuid.uuid4().hex,
                        "username": "test",
                        "session": self.session,
                        "msg_type": msg_type,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": content,
                }
            )
        )

    def shutdown(self):
        """Close the websocket and DELETE the kernel; the server's answer."""
        self.ws.close()
        return self.server.delete(f"/api/kernels/{self.id}")


def scraped(server):
    """Cygnet's metrics from the server's /metrics (with its token), name{labels} -> value."""
    return cygnet_metrics(server.get("/metrics").text)


def cygnet_metrics(text):
    """Cygnet's lines of a Prometheus scrape, name{labels} -> value."""
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line.startswith("cygnet_")}


def log_dir():
    """The folder of this process's server logs, made on first use; the suite removes it at its
    end once it has searched the logs for secrets (tests/conftest.py)."""
    if JupyterServer.log_dir is None:
        JupyterServer.log_dir = Path(tempfile.mkdtemp(prefix="cygnet-test-logs-"))
    return JupyterServer.log_dir
