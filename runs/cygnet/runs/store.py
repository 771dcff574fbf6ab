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
        return data


class RunStore:
    """Records of runs, safe to use from several threads and processes."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:  # a transaction: committed, or rolled back on an error
                yield db
        finally:
            db.close()

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
