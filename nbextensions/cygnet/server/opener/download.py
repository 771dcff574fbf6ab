"""Putting a notebook (.ipynb) or an archive (.zip) from a URL into the workspace, under a
name that never overwrites anything, within a time and size limit."""

import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import requests

from cygnet.core.errors import BadInput, CygnetError, Unavailable

from .policy import free_name, sweep_stale

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
            final = folder / free_name(folder, name)
            os.replace(tmp, final)
            os.chmod(final, 0o644)
            return final
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
    """Stream `url` into `out`, following redirects only to URLs the policy allows."""
    deadline = time.monotonic() + settings.timeout
    with requests.Session() as http:
        for _ in range(MAX_REDIRECTS + 1):
            settings.policy.check_download(url)
            try:
                response = http.get(url, stream=True, allow_redirects=False,
                                    timeout=(10, min(30, settings.timeout)))
            except requests.RequestException as e:
                raise Unavailable(f"downloading {url} failed: {e.__class__.__name__}: {e}") from e
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise CygnetError(f"downloading {url} failed: HTTP {response.status_code} {response.reason}")
                declared = int(response.headers.get("content-length") or 0)
                if declared > settings.max_bytes:
                    raise BadInput(f"{url} is {declared // 2**20} MiB, over this site's limit "
                                   f"of {settings.max_bytes // 2**20} MiB")
                received = 0
                progress(f"downloading {url}")
                try:
                    for chunk in response.iter_content(1 << 20):
                        received += len(chunk)
                        if received > settings.max_bytes:
                            raise BadInput(f"{url} is over this site's limit of {settings.max_bytes // 2**20} MiB")
                        if time.monotonic() > deadline:
                            raise Unavailable(f"downloading {url}: not done within {settings.timeout:g} s, stopped")
                        out.write(chunk)
                except requests.RequestException as e:
                    raise Unavailable(f"downloading {url} failed: {e.__class__.__name__}: {e}") from e
                progress(f"received {received} bytes")
                return
    raise BadInput(f"downloading {url}: more than {MAX_REDIRECTS} redirects")


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
            raise BadInput(f"{stem}.zip unpacks to {total // 2**20} MiB, over this site's limit "
                           f"of {settings.max_bytes // 2**20} MiB")
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{stem}.", suffix=".unpacking"))
        try:
            progress(f"unpacking {len(entries)} entries")
            zf.extractall(staging)
            final = folder / free_name(folder, stem, is_folder=True)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    # An archive of one folder (as GitHub makes them) opens on that folder.
    inside = [p for p in final.iterdir()]
    return inside[0] if len(inside) == 1 and inside[0].is_dir() else final
