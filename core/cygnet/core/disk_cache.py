"""Small JSON caches under ~/.cache/cygnet/ (or $XDG_CACHE_HOME/cygnet/) for what a frequent
command would otherwise recompute at every start. A cache that cannot be read or written is no
cache: the caller computes the same answer the slow way."""

import json
import os


def cache_path(name: str) -> str:
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cygnet", name)


def read_cache(name: str) -> dict | None:
    try:
        with open(cache_path(name)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_cache(name: str, data: dict) -> None:
    from .atomic import atomic_write

    try:
        atomic_write(cache_path(name), json.dumps(data))
    except OSError:
        pass  # a read-only home: no cache
