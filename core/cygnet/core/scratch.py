"""A session's private scratch: every file a session writes is its account's alone.

Other users share the machine (assume they can list every process and port). The session's
server sets umask 077 for itself and everything it starts (kernels, terminals, Spark drivers
and Connect servers, Dask workers, batch runs), and points every temporary folder it knows of
into one 0700 folder of its own: $TMPDIR, Spark's local dirs (shuffle and spill files, block
manager folders), the JVM's java.io.tmpdir (Connect's artifacts, /tmp/spark-*), and Dask's
temporary-directory (spill, worker scratch). A folder left by a session that was killed is
removed when the next session starts; the session removes its own when it stops.

Standard library only: the server calls it, and `cygnet` commands run outside a server too.
"""

import os
import shutil
from collections.abc import Mapping

from . import contract
from .proc import alive

UMASK = 0o077


def private_umask() -> int:
    """umask 077 for this process and all it starts; the previous mask."""
    return os.umask(UMASK)


def scratch_root(data_dir: str, site_scratch: str = "") -> str:
    """Where sessions' scratch folders live: under the site's local scratch disk (a 0700 folder
    per account, for speed) when it names one, else in the user's data dir."""
    if site_scratch:
        return os.path.join(site_scratch, f"cygnet-{os.getuid()}")
    return os.path.join(data_dir, "scratch")


def prepare(data_dir: str, site_scratch: str = "", environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Make this session's 0700 scratch folder (removing those of sessions that are gone) and
    return the environment that sends every temporary file there."""
    environ = os.environ if environ is None else environ
    root = scratch_root(data_dir, site_scratch)
    _private_dir(root)
    sweep(root)
    return private_scratch(os.path.join(root, str(os.getpid())), environ)


def private_scratch(session: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Make the 0700 folder `session` and the environment that sends every temporary file there
    (a session's, or a batch run's, which outlives the session that started it)."""
    tmp, spark, dask = (os.path.join(session, part) for part in ("tmp", "spark", "dask"))
    for folder in (session, tmp, spark, dask):
        _private_dir(folder)
    java_tmp = f"-Djava.io.tmpdir={tmp}"
    submit_opts = environ.get("SPARK_SUBMIT_OPTS", "")
    return {
        contract.SCRATCH.name: session,
        "TMPDIR": tmp,
        "SPARK_LOCAL_DIRS": spark,
        "SPARK_SUBMIT_OPTS": submit_opts if java_tmp in submit_opts else f"{submit_opts} {java_tmp}".strip(),
        "DASK_TEMPORARY_DIRECTORY": dask,
    }


def sweep(root: str) -> None:
    """Remove the scratch folders of sessions whose process is gone (killed, crashed)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if name.isdigit() and not alive(int(name)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def remove(session: str | None) -> None:
    """Remove a session's scratch folder (at its end)."""
    if session:
        shutil.rmtree(session, ignore_errors=True)


def private_dir(path: str) -> None:
    """`path` as a folder only its account can enter (made, or narrowed if it was wider)."""
    _private_dir(path)


def _private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:  # made earlier, or by a laxer umask
        os.chmod(path, 0o700)
