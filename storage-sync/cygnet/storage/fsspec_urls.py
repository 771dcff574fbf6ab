"""fsspec options for the service's storage, so Pangeo's readers and writers (xarray, zarr,
dask.dataframe, pandas) take its URLs as they are:

    xr.open_zarr(url, storage_options=cygnet.storage.storage_options(url))

- `root://host//path` (EOS): fsspec-xrootd, mended for zarr 3 (`xrootd_fs`); the XRootD client
  finds the user's Kerberos ticket through $KRB5CCNAME, which Dask workers on this machine
  inherit. No options are needed.
- `webdav(s)://host/path` (a box): webdav4's filesystem, with the box credentials of the session
  ($CYGNET_BOX_USER / $CYGNET_BOX_PASSWORD, or its Kerberos ticket). webdav4 reads a URL's host
  as part of the path, so Cygnet registers a subclass that takes the server from the URL; its
  filesystem (`webdav_fs`) carries the credentials to the workers, which read their own chunks from the server.
"""

from urllib.parse import urlsplit

from cygnet.core import contract
from cygnet.core.errors import BadInput

BOX_PROTOCOLS = ("webdav", "webdavs")


def register():
    import fsspec

    # By name: the libraries are imported when a URL of theirs is opened.
    for protocol in BOX_PROTOCOLS:
        fsspec.register_implementation(protocol, "cygnet.storage.webdav_fs.BoxWebdavFileSystem", clobber=True)
    fsspec.register_implementation("root", "cygnet.storage.xrootd_fs.XRootDFileSystem", clobber=True)


def storage_options(url):
    """The `storage_options` for `url` (root:// or webdav(s)://), with this session's credentials."""
    scheme = urlsplit(str(url)).scheme.lower()
    if scheme in ("root", "xroot"):
        register()
        return {}
    if scheme in ("webdav", "webdavs"):
        register()
        parts = urlsplit(str(url))
        if parts.username or parts.password:
            raise BadInput("put box credentials in $CYGNET_BOX_USER and $CYGNET_BOX_PASSWORD, not in the URL")
        user, password = contract.BOX_USER.get(), contract.BOX_PASSWORD.get()
        if user:
            return {"auth": (user, password), "timeout": 60}
        from cygnet.core.negotiate import HttpxNegotiate

        return {"auth": HttpxNegotiate(), "timeout": 60}
    raise BadInput(f"storage options are for root:// and webdav(s):// URLs, not {url!r}")
