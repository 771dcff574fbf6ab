"""The hub's own SQLite database (`cygnet hub`'s default `JupyterHub.db_url`) in WAL mode with
synchronous=NORMAL. JupyterHub commits on its event loop, and SQLite's default journal waits
for two fsyncs per commit: while ten sessions start and write to the same disk, one commit
took long enough to hold every hub request behind it (the API's p99 in `bench/hub_load.py`).
In WAL mode with synchronous=NORMAL a commit is a write to the log, synced at checkpoints;
the database stays consistent through a crash, and a power cut can lose the last commits (a
login or a spawn to redo). A site's own `db_url` (another file, MySQL, PostgreSQL) is left
as it is."""

import os

from sqlalchemy import event
from sqlalchemy.engine import Engine

_files = set()  # the database files this applies to


def fast_commits(path):
    """Every SQLAlchemy connection to the SQLite file `path` opened from now on, in this process."""
    if not _files:
        event.listen(Engine, "connect", _on_connect)
    _files.add(os.path.realpath(path))


def _on_connect(dbapi_connection, _record):
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    files = {os.path.realpath(row[2]) for row in dbapi_connection.execute("PRAGMA database_list") if row[2]}
    if files & _files:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
