"""webdav4's fsspec filesystem for box URLs as Cygnet writes them (webdav(s)://host/path):
webdav4 reads the host as part of the path, this takes the server from the URL."""

from urllib.parse import urlsplit

from webdav4.fsspec import WebdavFileSystem


class BoxWebdavFileSystem(WebdavFileSystem):
    """webdav(s)://host[:port]/path -> the path on http(s)://host[:port]/."""

    protocol = ("webdav", "webdavs")

    def __init__(self, base_url, auth=None, client=None, asynchronous=False, loop=None, **client_opts):
        # zarr asks every filesystem for asynchronous=True and wraps a synchronous one itself;
        # webdav4 would hand the flag to its HTTP client.
        super().__init__(base_url, auth=auth, client=client, **client_opts)

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        parts = urlsplit(str(path))
        if parts.scheme in ("webdav", "webdavs"):
            return parts.path.strip("/")
        return str(path).strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path):
        parts = urlsplit(str(path))
        if parts.scheme in ("webdav", "webdavs") and parts.netloc:
            http = "https" if parts.scheme == "webdavs" else "http"
            return {"base_url": f"{http}://{parts.netloc}/"}
        return {}
