"""A share's files as one zip: how a user's server hands a snapshot to the hub's share service
(`cygnet-shares`) and how a copy comes back. What is unpacked is checked as strictly as what a
stranger uploads: the service trusts no user's server more than it trusts the user."""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

from cygnet.core.errors import BadInput

MAX_ENTRIES = 10000


def pack(source: Path, files: list, kind: str, out: IO[bytes]) -> None:
    """Write the snapshot of `source` (a file, or a folder's `files` as [[rel, size], ...]) as a zip."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for rel, _ in files:
            archive.write(source / rel if kind == "folder" else source, rel)


def unpack(archive: IO[bytes], folder: Path, name: str, kind: str, max_bytes: int) -> Path:
    """Unpack a bundle into a new entry `name` of `folder` (which must not hold it yet): the
    folder for a folder share, the one file otherwise. BadInput when it is not a well-made bundle."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise BadInput("the share's content is not a valid zip") from None
    with zf:
        entries = [e for e in zf.infolist() if not e.is_dir()]
        _check(entries, name, kind, max_bytes)
        target = folder / name
        try:
            if kind != "folder":
                with zf.open(entries[0]) as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                return target
            target.mkdir()
            for entry in entries:
                path = target / entry.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(entry) as src, open(path, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as e:
            raise BadInput(f"the share's content is damaged ({e})") from None
        return target


def unpack_to_temp(archive: IO[bytes], name: str, kind: str, max_bytes: int, within: str | None = None):
    """`unpack` into a new temporary folder; returns (that folder, the unpacked entry). The
    caller removes the folder."""
    staging = Path(tempfile.mkdtemp(prefix=".cygnet-share.", dir=within))
    try:
        return staging, unpack(archive, staging, name, kind, max_bytes)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check(entries: list, name: str, kind: str, max_bytes: int) -> None:
    if "/" in str(name) or not safe_rel(name):
        raise BadInput(f"{name!r} is not a name a share can have")
    if kind not in ("notebook", "file", "folder"):
        raise BadInput(f"kind must be notebook, file or folder, not {kind!r}")
    if kind != "folder" and (len(entries) != 1 or entries[0].filename != name):
        raise BadInput(f"a {kind} share holds exactly one file, named {name!r}")
    if len(entries) > MAX_ENTRIES:
        raise BadInput(f"a share holds at most {MAX_ENTRIES} files")
    total = 0
    for entry in entries:
        if not safe_rel(entry.filename):
            raise BadInput(f"the share's content has an entry that is not a plain relative path: {entry.filename!r}")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise BadInput(f"the share's content has a symbolic link: {entry.filename!r}")
        total += entry.file_size  # zipfile never unpacks more than an entry declares
    if total > max_bytes:
        raise BadInput(f"the share is larger than this site's limit of {max_bytes} bytes")


def safe_rel(rel: object) -> bool:
    """A relative path of a shared file: no '..', no empty or hidden parts, no control
    characters, no backslashes, not absolute. Paths from requests, bundles and the database are
    all judged by this one rule."""
    if not isinstance(rel, str) or not rel or len(rel) > 4096 or "\\" in rel:
        return False
    if any(ord(c) < 32 for c in rel) or rel.startswith("/"):
        return False
    return all(p and p not in (".", "..") and not p.startswith(".") for p in rel.split("/"))
