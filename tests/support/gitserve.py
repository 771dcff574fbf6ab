"""Real servers for the opener: `git daemon` over git://, a static HTTP server, and a server
that accepts connections and never answers. All on 127.0.0.1."""

import functools
import http.server
import socket
import subprocess
import threading
import time
from pathlib import Path

from .jupyter import free_port

GIT_IDENTITY = ["-c", "user.email=teacher@example.org", "-c", "user.name=Teacher"]


def git(*args, cwd=None):
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class GitDaemon:
    """`git daemon` exporting every repository under `base`."""

    def __init__(self, base):
        self.base = Path(base)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.base}",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def url(self, name):
        return f"git://127.0.0.1:{self.port}/{name}.git"


class Upstream:
    """A bare repository served by the daemon, and the teacher's clone that pushes to it."""

    def __init__(self, daemon, name, files):
        self.bare = daemon.base / f"{name}.git"
        self.url = daemon.url(name)
        git("init", "-q", "--bare", "-b", "main", str(self.bare))
        self.work = daemon.base.parent / f"{name}-teacher-{free_port()}"
        git("init", "-q", "-b", "main", str(self.work))
        git("remote", "add", "origin", str(self.bare), cwd=self.work)
        self.commit(files, "first")

    def commit(self, files=None, message="update", delete=(), branch="main"):
        """Commit `files` (and deletions) on `branch` (made from main if new) and push it."""
        if branch != "main":
            git("checkout", "-q", "-B", branch, cwd=self.work)
        for name, content in (files or {}).items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        for name in delete:
            git("rm", "-q", name, cwd=self.work)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", branch, cwd=self.work)
        if branch != "main":
            git("checkout", "-q", "main", cwd=self.work)

    def rewrite_history(self, files):
        """Replace the branch with an unrelated history (a force push)."""
        git("checkout", "-q", "--orphan", "fresh", cwd=self.work)
        git("rm", "-rq", "--cached", ".", cwd=self.work)
        for path in self.work.iterdir():
            if path.name != ".git":
                subprocess.run(["rm", "-rf", str(path)], check=True)
        for name, content in files.items():
            (self.work / name).write_text(content)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", "rewritten", cwd=self.work)
        git("branch", "-M", "main", cwd=self.work)
        git("push", "-q", "--force", "origin", "main", cwd=self.work)


class StaticServer:
    """A threaded HTTP server for the files in `folder`."""

    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class SilentServer:
    """Accepts connections and never says a word: a server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def _wait_for_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")
