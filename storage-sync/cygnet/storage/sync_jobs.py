"""Sync jobs: syncs of workspace folders into the box started by the REST API, followed by id,
listed, and kept in SQLite under the data dir so they survive a restart of the server.

A job's parameters are checked here (one place for the REST face): `src` a folder of the
workspace, `dest` a folder inside the box and not the share snapshots, `delete` and `dry_run`
JSON booleans. An identical request while one is queued or running joins it instead of
starting a second. A job that a restart cut off is `interrupted`, and can be resumed: a sync
carries on where it stopped (its journal and the partial-upload sweep make a re-run safe).
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from cygnet.core import checks
from cygnet.core.errors import BadInput, NotFound
from cygnet.core.paths import confine
from cygnet.core.proc import alive, die_with_parent

KEPT = 100  # finished jobs remembered
LIVE = ("queued", "running")
FIELDS = (
    "id",
    "owner",
    "src",
    "dest",
    "delete",
    "dry_run",
    "state",
    "progress",
    "summary",
    "error",
    "started",
    "finished",
    "pid",
    "resumed_from",
)


class SyncJobs:
    def __init__(self, workspace, box_url, data_dir, shares_url=None, versions=0):
        self.workspace, self.box_url, self.data_dir = workspace, box_url, data_dir
        self.versions = versions  # previous versions of each file kept in the box
        self.protected = [shares_url] if shares_url else []
        self.live = {}  # id -> job dict of jobs this process runs (progress updated in memory)
        self.lock = threading.Lock()
        path = Path(data_dir) / "sync" / "jobs.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self.lock, self.db:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("""CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, owner TEXT, src TEXT,
                dest TEXT, "delete" INTEGER, dry_run INTEGER, state TEXT, progress TEXT, summary TEXT,
                error TEXT, started REAL, finished REAL, pid INTEGER, resumed_from TEXT)""")
        self._mark_interrupted()

    # --- the REST face's calls ----------------------------------------------------------------
    def start(self, body, owner, submit):
        """A new job for `body` ({src, dest?, delete?, dry_run?}), run through `submit(fn)`
        (the server's long-work pool, which may refuse with TooBusy); or the identical job
        already queued or running, with "joined": true."""
        body = checks.body(body, ("src", "dest", "delete", "dry_run"), required=("src",))
        params = {
            "src": checks.text(body["src"], "src"),
            "dest": checks.text(body.get("dest"), "dest", required=False) or "",
            "delete": checks.flag(body.get("delete"), "delete"),
            "dry_run": checks.flag(body.get("dry_run"), "dry_run"),
        }
        return self._start(params, owner, submit)

    def resume(self, job_id, owner, submit):
        """A new job with the parameters of an interrupted or failed one."""
        old = self.get(job_id, owner)
        if old["state"] not in ("interrupted", "failed"):
            raise BadInput(f"sync job {job_id} is {old['state']}; only interrupted or failed jobs are resumed")
        params = {k: old[k] for k in ("src", "dest", "delete", "dry_run")}
        return self._start(params, owner, submit, resumed_from=job_id)

    def get(self, job_id, owner):
        with self.lock:
            job = self.live.get(job_id)
            if job is None:
                row = self.db.execute(f"SELECT {_columns()} FROM jobs WHERE id = ?", (job_id,)).fetchone()
                job = _job(row) if row else None
        if job is None or job["owner"] != owner:
            raise NotFound(f"no sync job {job_id} of yours")
        return dict(job)

    def list(self, owner):
        """The owner's jobs, newest first."""
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_columns()} FROM jobs WHERE owner = ? ORDER BY started DESC", (owner,)
            ).fetchall()
            return [dict(self.live.get(row[0]) or _job(row)) for row in rows]

    # --- inside ----------------------------------------------------------------------------------
    def _start(self, params, owner, submit, resumed_from=None):
        from .box import box_subfolder
        from .sync_engine import check_target

        src = confine(self.workspace, params["src"])
        if not src.is_dir():
            raise NotFound(f"{params['src']} is not a folder of the workspace")
        dest = box_subfolder(self.box_url, params["dest"])
        check_target(str(src), dest, self.protected)
        with self.lock:
            for job in self.live.values():
                if (
                    job["owner"] == owner
                    and job["state"] in LIVE
                    and all(job[k] == params[k] for k in ("src", "dest", "delete", "dry_run"))
                ):
                    return {**job, "joined": True}
            job = {
                "id": uuid.uuid4().hex,
                "owner": owner,
                **params,
                "state": "queued",
                "progress": {"files_done": 0, "files_total": None, "bytes": 0},
                "summary": None,
                "error": None,
                "started": time.time(),
                "finished": None,
                "pid": os.getpid(),
                "resumed_from": resumed_from,
            }
            self.live[job["id"]] = job
        try:
            submit(lambda: self._run(job, str(src), dest))
        except BaseException:
            with self.lock:
                del self.live[job["id"]]
            raise
        self._save(job)
        self._forget_old()
        return dict(job)

    def _run(self, job, src, dest):
        """Run the sync in its own process (sync_run), following its progress lines."""
        spec = {
            "src": src,
            "dest": dest,
            "delete": job["delete"],
            "dry_run": job["dry_run"],
            "data_dir": str(self.data_dir),
            "protected": self.protected,
            "versions": self.versions,
        }
        job["state"] = "running"
        saved, last = 0.0, None
        # stderr goes to a file: a pipe nobody reads while stdout is followed could fill and
        # stop the sync (warnings from a library, a long traceback).
        errors = tempfile.TemporaryFile(mode="w+")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cygnet.storage.sync_run"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                preexec_fn=die_with_parent,
            )
            proc.stdin.write(json.dumps(spec))
            proc.stdin.close()
            for line in proc.stdout:
                message = json.loads(line)
                if "progress" in message:
                    done, total, sent = message["progress"]
                    job["state"], job["progress"] = "running", {"files_done": done, "files_total": total, "bytes": sent}
                    if time.monotonic() - saved > 1:  # the stored copy follows, a second behind at most
                        saved = time.monotonic()
                        self._save(job)
                elif "waiting" in message:
                    job["state"] = "queued"  # behind another sync into this box
                else:
                    last = message
            proc.wait()
            errors.seek(0)
            err = errors.read()
            if last is None:
                raise RuntimeError(f"the sync process ended with exit code {proc.returncode}: {err[-500:]}")
            if "summary" in last:
                job["summary"], job["state"] = last["summary"], "done"
            else:
                job["error"], job["state"] = last["error"], "failed"
        except Exception as e:  # noqa: BLE001 - a job must end with a state a client can read
            job["error"], job["state"] = f"internal error: {type(e).__name__}: {e}", "failed"
        finally:
            errors.close()
        job["finished"] = time.time()
        self._save(job)
        with self.lock:
            self.live.pop(job["id"], None)

    def _save(self, job):
        values = [json.dumps(job[k]) if k in ("progress", "summary") else job[k] for k in FIELDS]
        with self.lock, self.db:
            self.db.execute(
                f"INSERT OR REPLACE INTO jobs ({_columns()}) VALUES ({', '.join('?' * len(FIELDS))})", values
            )

    def _mark_interrupted(self):
        """Jobs left queued or running by a server that is gone: a restart cut them off."""
        with self.lock, self.db:
            for job_id, pid in self.db.execute(
                "SELECT id, pid FROM jobs WHERE state IN ('queued', 'running')"
            ).fetchall():
                if pid != os.getpid() and not _server_alive(pid):
                    self.db.execute(
                        "UPDATE jobs SET state = 'interrupted', finished = ?, error = ? WHERE id = ?",
                        (time.time(), "the server stopped while this job ran; resume it to finish", job_id),
                    )

    def _forget_old(self):
        with self.lock, self.db:
            self.db.execute(
                """DELETE FROM jobs WHERE state NOT IN ('queued', 'running') AND id NOT IN
                (SELECT id FROM jobs ORDER BY started DESC LIMIT ?)""",
                (KEPT,),
            )

    def close(self):
        with self.lock:
            self.db.close()


def _server_alive(pid):
    """Whether `pid` is still a server that may run the job (a pid reused by an unrelated process
    after a restart does not count)."""
    if not alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
    except OSError:
        return True  # no /proc: trust the pid
    return b"cygnet" in command or b"jupyter" in command


def _columns():
    return ", ".join(f'"{k}"' for k in FIELDS)


def _job(row):
    job = dict(zip(FIELDS, row, strict=True))
    job["progress"], job["summary"] = json.loads(job["progress"] or "null"), json.loads(job["summary"] or "null")
    job["delete"], job["dry_run"] = bool(job["delete"]), bool(job["dry_run"])
    return job
