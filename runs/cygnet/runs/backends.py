"""Where a run's job runs. Every backend starts the same command (`python -m
cygnet.runs.execute RUN_DIR`) with the same environment, and answers what the job is doing:
'queued', 'running', or 'ended' (the run's own status.json then says how it ended).

- `local`: a detached process on this machine (the embedded default).
- `slurm`: `sbatch` / `squeue` / `scancel`.
- `htcondor`, `kubernetes`: the submit description and the Job manifest are generated from the
  same job; submitting them needs a site's schedd or cluster (not run here, see the admin guide).
"""

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from cygnet.core.errors import BadInput, Unavailable
from cygnet.core.proc import alive, run_bounded, tail

QUEUE_TIMEOUT = 30  # seconds for sbatch/squeue/scancel to answer


@dataclass
class Job:
    """What every backend runs."""

    run_id: str
    run_dir: str
    workdir: str
    env: dict
    python: str = sys.executable
    cpus: int = 0  # 0: the backend's default
    memory_mb: int = 0
    time_limit_minutes: int = 0
    options: list = field(default_factory=list)  # the site's extra options for its scheduler

    @property
    def command(self):
        return [self.python, "-m", "cygnet.runs.execute", self.run_dir]

    @property
    def log(self):
        return os.path.join(self.run_dir, "job.log")


class LocalBackend:
    name = "local"

    def submit(self, job):
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
        return str(proc.pid)

    def state(self, job_id, run_dir):
        pid = int(job_id)
        return "running" if alive(pid) and _is_our_job(pid, run_dir) else "ended"

    def cancel(self, job_id, run_dir):
        pid = int(job_id)
        if alive(pid) and _is_our_job(pid, run_dir):
            try:
                os.killpg(pid, signal.SIGTERM)  # the executor and its kernel
            except ProcessLookupError:
                pass


def _is_our_job(pid, run_dir):
    """Whether process `pid` is still this run's job (process ids are reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return run_dir.encode() in f.read()
    except OSError:
        return False


class SlurmBackend:
    name = "slurm"

    def script(self, job):
        lines = ["#!/bin/bash", f"#SBATCH --job-name=cygnet-run-{job.run_id}", f"#SBATCH --output={job.log}"]
        lines.append(f"#SBATCH --chdir={job.workdir}")
        if job.cpus:
            lines.append(f"#SBATCH --cpus-per-task={job.cpus}")
        if job.memory_mb:
            lines.append(f"#SBATCH --mem={job.memory_mb}M")
        if job.time_limit_minutes:
            lines.append(f"#SBATCH --time={job.time_limit_minutes}")
        lines += [f"#SBATCH {option}" for option in job.options]
        lines.append("exec " + shlex.join(job.command))
        return "\n".join(lines) + "\n"

    def submit(self, job):
        script = os.path.join(job.run_dir, "job.sbatch")
        with open(script, "w") as f:
            f.write(self.script(job))
        # The environment goes as the process's own (sbatch exports it), never on a command line.
        result = _queue(["sbatch", "--parsable", script], "submitting to Slurm", env=job.env)
        return result.split(";")[0].strip()

    def state(self, job_id, run_dir):
        out = _queue(["squeue", "--noheader", "--jobs", job_id, "--format=%T"], "asking Slurm", ok_codes=(0, 1))
        state = out.strip().upper()
        if state in ("PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD", "SUSPENDED"):
            return "queued"
        if state in ("RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"):
            return "running"
        return "ended"  # no longer in the queue: status.json says how it ended

    def cancel(self, job_id, run_dir):
        _queue(["scancel", job_id], "cancelling the Slurm job")


def _queue(cmd, what, env=None, ok_codes=(0,)):
    try:
        result = run_bounded(cmd, timeout=QUEUE_TIMEOUT, what=what, env=env)
    except Unavailable as e:
        raise Unavailable(f"{what}: the scheduler does not answer ({e})") from e
    out = result.stdout.decode("utf-8", "replace") if isinstance(result.stdout, bytes) else result.stdout
    if result.returncode not in ok_codes:
        raise Unavailable(f"{what} failed: {tail(result.stderr) or f'exit {result.returncode}'}")
    return out


class HTCondorBackend:
    """The submit description for `condor_submit`; submitting needs the site's schedd."""

    name = "htcondor"

    def description(self, job):
        lines = [
            "universe = vanilla",
            f"executable = {job.python}",
            f"arguments = {_condor_args(job.command[1:])}",
            f"initialdir = {job.workdir}",
            f"output = {job.log}",
            f"error = {job.log}",
            f"log = {os.path.join(job.run_dir, 'condor.log')}",
            f"batch_name = cygnet-run-{job.run_id}",
            "getenv = False",
            f"environment = {_condor_env(job.env)}",
        ]
        if job.cpus:
            lines.append(f"request_cpus = {job.cpus}")
        if job.memory_mb:
            lines.append(f"request_memory = {job.memory_mb}")
        if job.time_limit_minutes:
            lines.append(f"+MaxRuntime = {job.time_limit_minutes * 60}")
        lines += list(job.options)
        lines.append("queue")
        return "\n".join(lines) + "\n"

    def submit(self, job):
        raise Unavailable("the htcondor backend needs the site's HTCondor schedd, which is not configured here")

    state = cancel = submit


def _condor_args(args):
    # HTCondor's "new syntax": the whole value in double quotes, each argument in single quotes.
    return '"' + " ".join("'" + a.replace("'", "''").replace('"', '""') + "'" for a in args) + '"'


def _condor_env(env):
    return (
        '"' + " ".join(f"{k}='" + v.replace("'", "''").replace('"', '""') + "'" for k, v in sorted(env.items())) + '"'
    )


class KubernetesBackend:
    """A batch/v1 Job running the session image with the workspace and views mounted; submitting
    needs the site's cluster."""

    name = "kubernetes"

    def __init__(self, image="cygnet/session:latest", namespace="default", volumes=()):
        self.image, self.namespace, self.volumes = image, namespace, list(volumes)

    def manifest(self, job):
        resources = {}
        if job.cpus:
            resources["cpu"] = str(job.cpus)
        if job.memory_mb:
            resources["memory"] = f"{job.memory_mb}Mi"
        container = {
            "name": "run",
            "image": self.image,
            "command": job.command,
            "workingDir": job.workdir,
            "env": [{"name": k, "value": v} for k, v in sorted(job.env.items())],
            "resources": {"requests": resources, "limits": resources} if resources else {},
            "volumeMounts": [{"name": v["name"], "mountPath": v["mountPath"]} for v in self.volumes],
        }
        spec = {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app": "cygnet-run", "cygnet-run": job.run_id}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": [{k: v for k, v in vol.items() if k != "mountPath"} for vol in self.volumes],
                },
            },
        }
        if job.time_limit_minutes:
            spec["activeDeadlineSeconds"] = job.time_limit_minutes * 60
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"cygnet-run-{job.run_id}", "namespace": self.namespace},
            "spec": spec,
        }

    def submit(self, job):
        raise Unavailable("the kubernetes backend needs the site's cluster, which is not configured here")

    state = cancel = submit


BACKENDS = {b.name: b for b in (LocalBackend, SlurmBackend, HTCondorBackend, KubernetesBackend)}


def backend_named(name, config=None):
    if name not in BACKENDS:
        raise BadInput(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    if name == "kubernetes" and config is not None:
        return KubernetesBackend(config.runs_kubernetes_image, config.runs_kubernetes_namespace)
    return BACKENDS[name]()
