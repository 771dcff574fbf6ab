"""A few site settings for a command that runs often (`cygnet sync` in a loop or a script),
without loading the configuration machinery (traitlets and Jupyter's loader, about 50 ms) each
time: the values are kept in ~/.cache/cygnet/ with a stamp of everything they came from, the
command-line flags, the environment and the modification times of the configuration folders and
files, and are loaded the full way again whenever any of it changed."""

import hashlib
import json
import os
import sys
from collections.abc import Sequence

from .disk_cache import read_cache, write_cache

ENVIRONMENT = ("CYGNET_", "JUPYTER_", "XDG_", "HOME", "USER", "JUPYTERHUB_")


def settings(config_argv: Sequence[str], names: Sequence[str]) -> dict:
    """{name: value} of these c.Cygnet options, as load_config(config_argv) would give them."""
    key = hashlib.sha256(json.dumps([list(config_argv), sorted(names), _environment(), sys.prefix]).encode())
    name = f"settings-{key.hexdigest()[:20]}.json"
    cached = read_cache(name)
    if cached and isinstance(cached.get("sources"), list) and cached.get("stamp") == _stamp(cached["sources"]):
        return cached["values"]
    from jupyter_core.paths import jupyter_config_path

    from .config import load_config

    config = load_config(config_argv)
    values = {name: getattr(config, name) for name in names}
    sources = [*jupyter_config_path()]
    write_cache(name, {"sources": sources, "stamp": _stamp(sources), "values": values})
    return values


def _environment() -> list:
    return sorted((k, v) for k, v in os.environ.items() if k.startswith(ENVIRONMENT))


def _stamp(folders: Sequence[str]) -> list:
    """The modification times of the configuration folders, their .d folders and their files:
    a new, changed or removed file changes one of them."""
    stamp = []
    for folder in folders:
        for path in (folder, os.path.join(folder, "jupyter_server_config.d")):
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
                stamp.append([path, os.stat(path).st_mtime_ns])
            except OSError:
                stamp.append([path, None])
                continue
            stamp += [
                [e.path, e.stat().st_mtime_ns]
                for e in entries
                if e.name.startswith("jupyter_server_config") or path.endswith(".d")
            ]
    return stamp
