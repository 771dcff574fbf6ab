"""What a session fixture builds once for the whole run: `make test` runs two pytest-xdist
workers, and each would otherwise build the same views with pip, both at once on two cores."""

import fcntl
import os
import shutil


def built_once(tmp_path_factory, name, build):
    """The folder that `build(folder)` fills, made by the first worker that asks (under a lock);
    the others wait for it and use it as it is. Only read-only fixtures may share this way."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder = base / f"shared-{name}"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker that died mid-way left
            folder.mkdir()
            build(folder)
            (folder / ".built").write_text("")
    return folder
