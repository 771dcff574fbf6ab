"""Records of the engines a kernel runs (Spark sessions, Dask clusters): what the session's
metrics count, and the cluster cores beyond the session's own (Spark executors on a cluster) that
the session reports to the hub's usage ledger (cygnet.hub.usage).

A kernel writes one small file per engine when it starts (`begin`), brings it up to date (`update`:
a Dask cluster scaled) and marks its end (`end`). The server reads them (`read`), counts them,
reports the `counted` ones through the hub, and forgets those that ended. A kernel killed before
`end` cannot mark it: the server notes when it last saw the kernel alive (`seen`) and ends the
use there. Engines on the session's own cores (local Spark and Dask, a managed Connect server)
are not `counted`: the hub counts the session already; gateway Dask clusters neither: the hub
counts them from the gateway's own records.

Every change is a read, change and atomic write under one lock per folder, as the kernels and
the server both write. Runs in the view's Python (standard library only), as the connectors do.
"""

import contextlib
import fcntl
import json
import os
import time
import uuid
from pathlib import Path

from cygnet.core import contract
from cygnet.core.atomic import atomic_write
from cygnet.core.proc import process_start


def records_dir():
    from cygnet.core.datadir import default_data_dir

    return Path(contract.USAGE_RECORDS.get() or Path(default_data_dir()) / "compute" / "usage")


@contextlib.contextmanager
def _locked(folder):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def begin(engine, cluster, kind, cores=0.0, workers=0, counted=False):
    """This kernel runs `engine` on `cluster` (of `kind`) from now on, with `cores` (and Dask's
    `workers`); `counted`: cores beyond the session's own. The record's path, for `end`."""
    record = {
        "id": uuid.uuid4().hex,
        "engine": engine,
        "cluster": cluster,
        "kind": kind,
        "cores": float(cores),
        "workers": int(workers),
        "counted": bool(counted),
        "started": time.time(),
        "ended": None,
        "pid": os.getpid(),
        "pid_start": process_start(os.getpid()),
    }
    folder = records_dir()
    path = folder / f"{record['id']}.json"
    with _locked(folder):
        atomic_write(path, json.dumps(record))
    return str(path)


def _change(path, change):
    """Apply `change(record)` (a dict of new values, or None for none) to the record at `path`."""
    path = Path(path)
    with _locked(path.parent):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return  # gone: the server has forgotten it
        new = change(record)
        if new:
            atomic_write(path, json.dumps({**record, **new}))


def update(path, **values):
    """The engine changed (a Dask cluster scaled: its workers)."""
    _change(path, lambda record: values if record.get("ended") is None else None)


def end(path):
    """The engine stopped now (a second call changes nothing)."""
    _change(path, lambda record: {"ended": time.time()} if record.get("ended") is None else None)


def seen(path):
    """The server saw the record's kernel running now: if the kernel dies without `end`, its
    engine ends here."""
    _change(path, lambda record: {"seen": time.time()} if record.get("ended") is None else None)


def alive(record):
    return record.get("pid_start") is not None and process_start(record["pid"]) == record["pid_start"]


def running(record):
    return record.get("ended") is None and alive(record)


def read(folder=None):
    """(path, record) of every record in `folder` (default: the kernels' own)."""
    folder = Path(folder) if folder else records_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append((str(path), json.loads(path.read_text())))
        except (OSError, ValueError):
            continue  # removed meanwhile
    return found


def forget(path):
    with _locked(Path(path).parent):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
