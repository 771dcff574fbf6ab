"""Run records: one SQLite table under the data folder. A record holds what was asked and where
the run is; its state is refreshed from the backend and the run's own result file, so a run
submitted before a server restart is still followed after it."""

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cygnet.core.errors import NotFound

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL = ("succeeded", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL
)
"""


@dataclass
class Run:
    id: str
    owner: str
    notebook: str  # relative to the workspace
    parameters: dict
    view: str
    kernel: str
    backend: str
    output: str  # the executed notebook, relative to the workspace
    html: str  # its HTML rendering
    run_dir: str  # where the job's files are (absolute)
    cluster: str = ""
    schedule: str = ""  # the schedule that fired it, if one did
    compare_with: str = ""  # the run on another view this one checks against (check_views)
    notify: dict = field(default_factory=dict)  # when and whom to tell it ended (cygnet.runs.notify)
    noticed: bool = False  # its end has been handed to the notifications (cygnet.runs.notify)
    job_id: str = ""
    state: str = "queued"
    cells_done: int = 0
    cells_total: int = 0
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    error: str = ""

    def to_dict(self):
        data = asdict(self)
        data.pop("run_dir")
        data["notify"] = shown_notify(data["notify"])
        return data


def shown_notify(notify):
    """A record's notify as its owner is shown it: the webhook's secret replaced by the fact of it."""
    shown = dict(notify)
    if shown.pop("webhook_secret", None):
        shown["webhook_signed"] = True
    return shown


class Database:
    """One SQLite file (WAL), each use a transaction; safe from several threads and processes."""

    def __init__(self, path, schema):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(schema)

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:  # a transaction: committed, or rolled back on an error
                yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self):
        """A transaction that holds the write lock from its first read, so a read-then-write is
        atomic across processes too (BEGIN IMMEDIATE)."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db


class RunStore(Database):
    """Records of runs."""

    def __init__(self, path):
        super().__init__(path, SCHEMA)

    def add(self, run):
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?)", (run.id, run.owner, run.created, json.dumps(asdict(run)))
            )

    def save(self, run):
        with self._lock, self._connect() as db:
            db.execute("UPDATE runs SET record = ? WHERE id = ?", (json.dumps(asdict(run)), run.id))

    def get(self, run_id, owner):
        """The run `run_id` of `owner`; NotFound for another user's run as for none at all."""
        with self._connect() as db:
            row = db.execute("SELECT record FROM runs WHERE id = ? AND owner = ?", (str(run_id), owner)).fetchone()
        if row is None:
            raise NotFound(f"no run {run_id}")
        return Run(**json.loads(row[0]))

    def list(self, owner, limit=200):
        with self._connect() as db:
            rows = db.execute(
                "SELECT record FROM runs WHERE owner = ? ORDER BY created DESC LIMIT ?", (owner, limit)
            ).fetchall()
        return [Run(**json.loads(r[0])) for r in rows]

    def awaiting_notice(self, owners=None):
        """Runs that ask to be told about (notify) and whose end has not been handed over yet."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT record FROM runs WHERE json_extract(record, '$.noticed') = 0 "
                "AND json_extract(record, '$.notify.on') IS NOT NULL ORDER BY created"
            ).fetchall()
        runs = [Run(**json.loads(r[0])) for r in rows]
        return [r for r in runs if owners is None or r.owner in owners]
