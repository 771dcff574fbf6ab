"""Dask from notebooks: `cygnet.dask.connect()` starts or joins a Dask cluster from the site's
catalogue (`dask-local` on this machine, or a site's `dask-gateway`) and returns its
`distributed.Client`; `%dask` does the same from a cell, and the compute panel from JupyterLab.

    import cygnet.dask
    client = cygnet.dask.connect(workers=2)            # dask-local, sized by the session
    client = cygnet.dask.connect("gateway", adapt=(1, 10), options={"worker_cores": 2})
    cygnet.dask.scale(4); cygnet.dask.disconnect()

    ds = xr.open_zarr(url, storage_options=cygnet.dask.storage_options(url))   # root:// or webdav(s)://
    cygnet.dask.to_zarr(result, url)                   # complete, or not there at all
"""

from .session import adapt, connect, disconnect, scale, status
from .storage import storage_options, to_zarr

# Kernel-side packages this one needs on a kernel's path (cygnet.kernels.isolation).
KERNEL_REQUIRES = ("cygnet.core", "cygnet.compute", "cygnet.storage")

__all__ = ["adapt", "connect", "disconnect", "scale", "status", "storage_options", "to_zarr"]
