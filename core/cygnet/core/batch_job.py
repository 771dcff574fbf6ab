"""The batch job a session runs in (a Slurm job, under CygnetSlurmSpawner), and when it ends:
the session warns before its time is up rather than vanish mid-cell."""

import os
import re
import shutil
import subprocess
import time

JOB_ID = re.compile(r"^\d+(_\d+)?$")
_cache: dict = {"at": 0.0, "job": None, "ends": None}
CACHE_SECONDS = 60  # an admin may extend a job's limit: asked again, but not on every poll


def session_job() -> str | None:
    """This session's Slurm job id, or None outside one."""
    job = os.environ.get("SLURM_JOB_ID", "")
    return job if JOB_ID.match(job) else None


def session_end(now: float | None = None) -> dict:
    """{scheduler, job, ends}: `ends` is when the job's time limit is reached (seconds since the
    epoch), or None when there is no job, no limit, or Slurm cannot say."""
    job = session_job()
    if job is None:
        return {"scheduler": None, "job": None, "ends": None}
    now = time.time() if now is None else now
    if _cache["job"] != job or now - _cache["at"] > CACHE_SECONDS:
        _cache.update(job=job, ends=_ask_slurm(job), at=now)
    return {"scheduler": "slurm", "job": job, "ends": _cache["ends"]}


def _ask_slurm(job: str) -> float | None:
    squeue = shutil.which("squeue")
    if not squeue:
        return None
    try:
        out = subprocess.run([squeue, "-h", "-j", job, "-o", "%e"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        return time.mktime(time.strptime(out.stdout.strip(), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None  # "N/A", "Unknown": no end
