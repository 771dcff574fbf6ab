"""Records of the gateway clusters kernels started, so none outlives its kernel.

A kernel writes one file per gateway cluster (its pid and the process's start time, the
gateway's address and the cluster's name) into a folder the server gives it, and removes it
when it shuts the cluster down. A kernel killed with -9, restarted or culled cannot do that:
the server's sweep (`stop_orphans`) finds records whose process is gone and stops their
clusters through the gateway, with the user's own credentials. Local clusters need no record:
their workers are the kernel's children and exit with it.
"""

import json
import os
from pathlib import Path

from cygnet.core import contract
from cygnet.core.atomic import atomic_write
from cygnet.core.proc import process_start


def records_dir():
    from cygnet.core.datadir import default_data_dir

    return Path(contract.DASK_RECORDS.get() or Path(default_data_dir()) / "dask" / "clusters")


def write(definition, cluster_name):
    path = records_dir() / f"{cluster_name}.json"
    record = {
        "pid": os.getpid(),
        "start": process_start(os.getpid()),
        "cluster": definition.to_spec(),
        "name": cluster_name,
    }
    atomic_write(path, json.dumps(record))
    return str(path)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def orphans(folder=None):
    """(path, record) of clusters whose kernel is gone."""
    folder = Path(folder) if folder else records_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if process_start(record.get("pid")) != record.get("start"):
            found.append((path, record))
    return found


def stop_orphans(folder=None, log=None):
    """Stop the gateway clusters of dead kernels; the names of those stopped."""
    from cygnet.compute.catalogue import parse_catalogue

    from .session import gateway_for

    stopped = []
    for path, record in orphans(folder):
        try:
            definition = parse_catalogue({"clusters": [record["cluster"]]}).clusters[0]
            gateway_for(definition).stop_cluster(record["name"])
            stopped.append(record["name"])
        except Exception as e:  # noqa: BLE001 - a gateway down now is tried again next sweep
            if log:
                log(f"could not stop Dask cluster {record.get('name')}: {e}")
            if "not found" not in str(e).lower():
                continue
        remove(path)
    return stopped
