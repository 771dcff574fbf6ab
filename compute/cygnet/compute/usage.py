"""Records of the cluster cores a kernel uses beyond its session's own (Spark executors on a
cluster), for the session to report to the hub's usage ledger (cygnet.hub.usage).

A kernel writes one small file per use when it starts (`begin`) and marks its end (`end`). The
server reads them (`read`), reports them through the hub, and forgets those that ended. A kernel
killed before `end` cannot mark it: the server notes when it last saw the kernel alive (`seen`)
and ends the use there. Local engines need no record: they use the session's own cores, counted already.
Runs in the view's Python (standard library only), as the connectors do.
"""

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


def begin(engine, cluster, cores):
    """This kernel uses `cores` of `cluster` from now on; the record's path, for `end`."""
    record = {
        "id": uuid.uuid4().hex,
        "engine": engine,
        "cluster": cluster,
        "cores": float(cores),
        "started": time.time(),
        "ended": None,
        "pid": os.getpid(),
        "pid_start": process_start(os.getpid()),
    }
    path = records_dir() / f"{record['id']}.json"
    atomic_write(path, json.dumps(record))
    return str(path)


def end(path):
    """The use recorded at `path` ended now (a second call changes nothing)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return
    if record.get("ended") is None:
        record["ended"] = time.time()
        atomic_write(path, json.dumps(record))


def seen(path, record):
    """The server saw the record's kernel running now: if the kernel dies without `end`, its use
    ends here."""
    try:  # as it is now: the kernel may have ended it since it was read
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return
    if record.get("ended") is None:
        atomic_write(path, json.dumps({**record, "seen": time.time()}))


def alive(record):
    return record.get("pid_start") is not None and process_start(record["pid"]) == record["pid_start"]


def read(folder=None):
    """(path, record) of every record in `folder` (default: the kernels' own)."""
    folder = Path(folder) if folder else records_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append((str(path), json.loads(path.read_text())))
        except (OSError, ValueError):
            continue  # half-written by a kernel killed mid-way: atomic writes leave none
    return found
