"""Writes that either happen whole or not at all."""

import os
import posixpath
from pathlib import Path

PARTIAL_MARK = ".cygnet-partial-"  # in the names of writes in progress; a crash's leftovers are swept


def partial_name(name: str) -> str:
    """A hidden temporary name beside `name`, for a write that is renamed into place when done."""
    return f".{name}{PARTIAL_MARK}{os.urandom(4).hex()}"


def partial_target(rel: str) -> str:
    """The file a partial write at `rel` was for: a/.b.txt.cygnet-partial-1f2e3d4c -> a/b.txt."""
    folder, name = posixpath.split(rel)
    return posixpath.join(folder, name[1:].split(PARTIAL_MARK, 1)[0])


def atomic_write(path: str | os.PathLike, data: str | bytes, mode: int = 0o644) -> None:
    """Write `data` (str or bytes) to `path` through a temporary file and a rename,
    so a reader or a crash never sees half a file."""
    import tempfile  # here: the modules that only name partials start faster without it

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
