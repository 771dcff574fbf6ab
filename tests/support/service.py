"""A server run for a test in a process group of its own, its output in a log file, started
once it answers."""

import os
import signal
import subprocess
import time

import requests


class Service:
    """Subclasses set `cmd`, `env`, `log_path` and `what`, and define `ready()` (True once the
    server answers) and `stop()`."""

    what = "server"
    proc = None
    hung = []  # (what, the threads' stacks) of servers that did not stop when asked

    def stop_process(self, grace, group=True):
        """Ask the server (with its process group) to stop; one still there after `grace` seconds
        is made to dump its Python threads into its log ($PYTHONFAULTHANDLER, kept in
        `Service.hung` for the suite's summary) and killed."""
        if not self.proc or self.proc.poll() is not None:
            return
        if group:
            os.killpg(self.proc.pid, signal.SIGTERM)
        else:
            self.proc.terminate()
        try:
            self.proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
        self.proc.send_signal(signal.SIGABRT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        text = self.log()
        stacks = (
            text[text.find("Fatal Python error: Aborted") :] if "Fatal Python error: Aborted" in text else text[-3000:]
        )
        Service.hung.append((f"{self.what} {self.cmd[:3]}", stacks[:6000]))
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def launch(self, timeout, poll=0.2):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # A suite started in the background of a shell inherits SIGINT ignored; JupyterHub
            # stops its services and sessions with SIGINT first, so the servers get it back.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.what} exited with {self.proc.returncode}:\n{self.log(6000)}")
            try:
                if self.ready():
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{self.what} did not answer within {timeout} s:\n{self.log(6000)}")

    def log(self, last=None):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-last:] if last else text

    def wait_for_log(self, text, timeout=30):
        """Wait until the log holds `text` (a server writes its access lines after answering)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.what}'s log did not show {text!r} within {timeout} s")
            time.sleep(0.1)
        return self.log()


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
