"""`local`: the job as a detached process on this machine (the embedded default). It outlives
the server, in a process group of its own so that cancelling stops its kernel too."""

import os
import shlex
import signal
import subprocess

from cygnet.core.proc import alive, pass_niceness_on

from .base import RunBackend
from .job import Job


class LocalRunBackend(RunBackend):
    """A process on the session's machine; nothing to configure."""

    name = "local"

    def describe(self, job: Job) -> str:
        return f"cd {shlex.quote(job.workdir)} && exec {shlex.join(job.command)} >>{shlex.quote(job.log)} 2>&1\n"

    def submit(self, job: Job) -> str:
        with open(job.log, "ab") as log:
            proc = subprocess.Popen(
                job.command,
                cwd=job.workdir,
                env=job.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the server, its own process group for cancel
            )
        pass_niceness_on(proc.pid)  # a session's batch job runs as nice as the session
        return str(proc.pid)

    def state(self, job_id: str, run_dir: str) -> str:
        pid = int(job_id)
        return "running" if alive(pid) and _is_our_job(pid, run_dir) else "ended"

    def cancel(self, job_id: str, run_dir: str) -> None:
        pid = int(job_id)
        if alive(pid) and _is_our_job(pid, run_dir):
            try:
                os.killpg(pid, signal.SIGTERM)  # the executor and its kernel
            except ProcessLookupError:
                pass


def _is_our_job(pid: int, run_dir: str) -> bool:
    """Whether process `pid` is still this run's job (process ids are reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return run_dir.encode() in f.read()
    except OSError:
        return False
