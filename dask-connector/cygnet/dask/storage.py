"""Lazy data on the service's storage for Dask: the fsspec options of root:// and box URLs
(`cygnet.storage.fsspec_urls`), and zarr stores written so a crashed write is never taken for
a complete dataset.

Why `to_zarr` here: zarr writes each array's metadata (zarr.json) *before* its chunks, and
xarray writes the consolidated metadata last. A write that dies half-way leaves a store whose
metadata opens fine and whose missing chunks read as fill values, silently. So Cygnet writes
the store under a hidden temporary name beside the target and renames it into place once every
chunk is written (one rename on a local disk, XRootD's mv on EOS, one MOVE on WebDAV). A
crashed write leaves only `.NAME.partial-*`, which nothing opens and a re-run does not reuse.
"""

import secrets
import warnings

from cygnet.core.errors import BadInput
from cygnet.storage.fsspec_urls import storage_options

__all__ = ["storage_options", "to_zarr"]


def _options(url):
    return storage_options(url) if "://" in str(url) else {}


def to_zarr(data, url, **kwargs):
    """Write `data` (an xarray Dataset or DataArray, or a dask array) as a new zarr store at
    `url`, complete or not at all; returns `url`."""
    import fsspec

    url = str(url).rstrip("/")
    options = _options(url)
    fs, path = fsspec.core.url_to_fs(url, **options)
    if fs.exists(path):
        raise BadInput(f"{url} exists: remove it first, or write to another name")
    parent, _, name = url.rpartition("/")
    if not name:
        raise BadInput(f"{url!r} names no store")
    temporary = f"{parent}/.{name}.partial-{secrets.token_hex(4)}"
    with warnings.catch_warnings():
        # Consolidated metadata (one read instead of one per array, worth it on EOS) is not yet in
        # zarr 3's specification, and zarr says so on every write.
        warnings.filterwarnings("ignore", message="Consolidated metadata")
        if hasattr(data, "to_zarr") and hasattr(data, "dims"):  # xarray
            data.to_zarr(temporary, storage_options=options or None, **kwargs)
        else:  # a dask array
            import dask.array as da

            da.to_zarr(data, temporary, storage_options=options or None, **kwargs)
    _, temporary_path = fsspec.core.url_to_fs(temporary, **options)
    fs.mv(temporary_path, path, recursive=True)
    return url
