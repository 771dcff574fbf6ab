"""Putting a notebook (.ipynb) or an archive (.zip) from a URL into the workspace, under a
name that never overwrites anything, within a time and size limit."""

import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3

from cygnet.core.errors import BadInput, CygnetError, Unavailable
from cygnet.core.paths import place_new

from .policy import sweep_stale

MAX_REDIRECTS = 5
MAX_ZIP_ENTRIES = 20000


def download_into(url, folder, settings, progress):
    """Download `url` into `folder`; returns the path of the notebook or unpacked folder."""
    name = _file_name(url)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale([*folder.glob(f".{name}.*.download"), *folder.glob(f".{name[:-4]}.*.unpacking")], settings.timeout)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".download")
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, settings, progress)
        if name.endswith(".ipynb"):
            _check_notebook(tmp, url)
            os.chmod(tmp, 0o644)
            return place_new(tmp, folder, name)
        return _unpack(tmp, folder, name[:-4], settings, progress)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _file_name(url):
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    if not name.endswith((".ipynb", ".zip")) or name.startswith(".") or "/" in name or "\\" in name:
        raise BadInput(f"only .ipynb notebooks and .zip archives can be opened from a URL, not {url!r}")
    return name


def _fetch(url, out, settings, progress):
    """Stream `url` into `out`, following redirects only to URLs the policy allows (each one
    resolved and checked again). The time limit is a deadline for the whole download: a server
    that trickles a byte a second is cut off at it, as is one that sends nothing."""
    deadline = time.monotonic() + settings.timeout
    with _session() as http:
        for _ in range(MAX_REDIRECTS + 1):
            settings.policy.check_download(url)
            try:
                with _cut_off_at(deadline, http):
                    response = http.get(
                        url,
                        stream=True,
                        allow_redirects=False,
                        timeout=(min(10, settings.timeout), min(30, settings.timeout)),
                    )
            except requests.RequestException:
                raise _failed(url, deadline, settings) from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise CygnetError(f"downloading {url} failed: HTTP {response.status_code} {response.reason}")
                declared = (
                    int(response.headers.get("content-length") or 0)
                    if (response.headers.get("content-length") or "").isdigit()
                    else 0
                )
                if declared > settings.max_bytes:
                    raise BadInput(
                        f"{url} is {declared // 2**20} MiB, over this site's limit of {settings.max_bytes // 2**20} MiB"
                    )
                received = 0
                progress(f"downloading {url}")
                try:
                    with _cut_off_at(deadline, http):
                        # read1: whatever has arrived, so the deadline is looked at as bytes come
                        while chunk := response.raw.read1(1 << 20, decode_content=True):
                            received += len(chunk)
                            if received > settings.max_bytes:
                                raise BadInput(f"{url} is over this site's limit of {settings.max_bytes // 2**20} MiB")
                            if time.monotonic() > deadline:
                                raise _too_slow(url, settings)
                            out.write(chunk)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                    raise _failed(url, deadline, settings) from None
                if time.monotonic() >= deadline or received < declared:  # cut off, or the server hung up early
                    raise _failed(url, deadline, settings)
                progress(f"received {received} bytes")
                return
    raise BadInput(f"downloading {url}: more than {MAX_REDIRECTS} redirects")


class _cut_off_at:
    """Shuts down every connection `http` (made by _session) opened once `deadline` passes,
    from a timer: a read blocked on a server that drips its headers or body, or sends nothing,
    fails at once instead of waiting out read timeouts that each new byte restarts."""

    def __init__(self, deadline, http):
        self.timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut_down, (http.cygnet_sockets,))
        self.timer.daemon = True

    def __enter__(self):
        self.timer.start()

    def __exit__(self, *exc):
        self.timer.cancel()


def _shut_down(sockets):
    for sock in list(sockets):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already


def _session():
    """A requests session whose connections' sockets are listed in `cygnet_sockets`."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    http = requests.Session()
    sockets = http.cygnet_sockets = []

    def tracked(pool_class, connection_class):
        class Connection(connection_class):
            def connect(self):
                super().connect()
                sockets.append(self.sock)

        return type(f"Tracked{pool_class.__name__}", (pool_class,), {"ConnectionCls": Connection})

    pools = {
        "http": tracked(HTTPConnectionPool, HTTPConnection),
        "https": tracked(HTTPSConnectionPool, HTTPSConnection),
    }
    for adapter in http.adapters.values():
        adapter.poolmanager.pool_classes_by_scheme = pools
    return http


def _failed(url, deadline, settings):
    """The error for a failed connection: the same words whatever the cause (refused, reset,
    unresolved, timed out), so a link cannot be used to tell open ports from closed ones."""
    if time.monotonic() >= deadline:
        return _too_slow(url, settings)
    return Unavailable(f"could not fetch {url}")


def _too_slow(url, settings):
    return Unavailable(f"downloading {url}: not done within {settings.timeout:g} s, stopped")


def _check_notebook(path, url):
    try:
        with open(path, "rb") as f:
            notebook = json.load(f)
    except (ValueError, UnicodeDecodeError):
        notebook = None
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise BadInput(f"{url} is not a Jupyter notebook")


def _unpack(archive, folder, stem, settings, progress):
    """Unpack into a new folder named after the archive. Every entry is checked before anything
    is written: no absolute paths, no '..', no links, no more than the size limit in all."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise BadInput(f"{stem}.zip is not a valid zip archive") from e
    with zf:
        entries = zf.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise BadInput(f"{stem}.zip has more than {MAX_ZIP_ENTRIES} entries")
        total = 0
        for entry in entries:
            name = PurePosixPath(entry.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or ":" in entry.filename:
                raise BadInput(f"{stem}.zip is refused: entry {entry.filename!r} would land outside its folder")
            if stat.S_ISLNK(entry.external_attr >> 16):
                raise BadInput(f"{stem}.zip is refused: entry {entry.filename!r} is a symbolic link")
            total += entry.file_size
        if total > settings.max_bytes:
            raise BadInput(
                f"{stem}.zip unpacks to {total // 2**20} MiB, over this site's limit "
                f"of {settings.max_bytes // 2**20} MiB"
            )
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{stem}.", suffix=".unpacking"))
        try:
            progress(f"unpacking {len(entries)} entries")
            try:
                zf.extractall(staging)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as e:
                # a lying CRC, a truncated member, an unknown compression method
                raise BadInput(f"{stem}.zip is damaged and was not unpacked ({e})") from None
            final = place_new(staging, folder, stem)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    # An archive of one folder (as GitHub makes them) opens on that folder.
    inside = [p for p in final.iterdir()]
    return inside[0] if len(inside) == 1 and inside[0].is_dir() else final
