"""Storage: the box (a folder on a local disk or a WebDAV server, addressed through fsspec)
and the sync engine that mirrors a workspace folder to it.

`sync(src, dest, ...)` is the Python API; see `cygnet.storage.sync_engine` for the rules.
This file imports nothing heavy, so kernels can be given the package later.
"""


def sync(src, dest, **options):
    """Mirror the folder `src` to the box folder `dest`; returns the summary (a dict)."""
    from .sync_engine import sync as _sync

    return _sync(src, dest, **options).to_dict()
