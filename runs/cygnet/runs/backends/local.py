"""`local`: the job as a detached process on this machine (the embedded default). It outlives
the server, in a process group of its own so that cancelling stops its kernel too. A run of a
view's Python is handed to a warm job when one waits (cygnet.runs.warm)."""

import os
import shlex
import signal
import subprocess

from traitlets import Float

from cygnet.core import contract
from cygnet.core.proc import alive, pass_niceness_on

from .. import warm
from .base import RunBackend
from .job import Job


class LocalRunBackend(RunBackend):
    """A process on the session's machine, or a warm job waiting there."""

    name = "local"

    warm_idle = Float(
        300.0,
        min=0.0,
        config=True,
        help="Seconds a warm job waits for the next local run before it exits (0: none). After a local run of a "
        "view's Python ends, a spare job starts with papermill imported and a fresh kernel of that view answering; "
        "the next local run of the same kernel and environment is handed to it instead of starting a process and "
        "a kernel. One spare per kernel, for runs of the same account; it costs an idle kernel's memory and a "
        "Python's.",
    )

    def describe(self, job: Job) -> str:
        return f"cd {shlex.quote(job.workdir)} && exec {shlex.join(job.command)} >>{shlex.quote(job.log)} 2>&1\n"

    def submit(self, job: Job) -> str:
        if self.warm_idle > 0:
            taken = warm.claim(job)
            if taken:
                return taken
        env = {**job.env, contract.RUN_WARM_IDLE.name: f"{self.warm_idle:g}"}  # the job starts a spare at its end
        with open(job.log, "ab") as log:
            proc = subprocess.Popen(
                job.command,
                cwd=job.workdir,
                env=env,
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
    """Whether process `pid` is still this run's job (process ids are reused): a job started for
    it, or the warm job it was handed to."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
    except OSError:
        return False
    return run_dir.encode() in command or (b"cygnet.runs.warm" in command and warm.runs_it(pid, run_dir))
