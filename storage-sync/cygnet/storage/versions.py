"""Previous versions of the files a sync replaces or deletes in the box, kept in the box beside
them: `<synced folder>/.cygnet-versions/<path>/<UTC time><suffix>`, the newest `keep` of each.

The box's copy is kept by the box itself, never through this machine: a hard link in a local
box, a WebDAV COPY, and on XRootD a rename just before the new copy is moved into place (EOS
keeps versions of its own as well). A deleted file's last copy is moved there, so a sync with
`delete` loses nothing either. Versions never count as files of the sync: its walk skips the
folder, and its journal never names them.
"""

from __future__ import annotations

import posixpath
import time
from datetime import UTC, datetime

FOLDER = ".cygnet-versions"
STAMP = "%Y%m%dT%H%M%S"  # then .<microseconds>Z and the file's suffix: names sort by time


def version_path(rel: str, now: float | None = None) -> str:
    """Where the box's current copy of `rel` is kept as a version made now."""
    now = time.time() if now is None else now
    stamp = time.strftime(STAMP, time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return f"{FOLDER}/{rel}/{stamp}{posixpath.splitext(rel)[1]}"


def keep(box, rel: str, count: int, move: bool = False) -> None:
    """Keep the box's copy of `rel` as its newest version (moved away with `move`), then drop
    the versions beyond the newest `count`."""
    box.keep_version(rel, version_path(rel), move)
    folder = f"{FOLDER}/{rel}"
    for name in sorted(box.listing(folder))[:-count]:
        box.delete(f"{folder}/{name}")


def versions(box, rel: str) -> list[dict]:
    """The kept versions of `rel`, newest first: {id, when (ISO 8601, UTC), size}."""
    found = []
    for name, (size, _) in box.listing(f"{FOLDER}/{rel}").items():
        when = kept_at(name)
        if when is not None:
            found.append({"id": name, "when": when.isoformat(), "size": size})
    return sorted(found, key=lambda v: v["id"], reverse=True)


def kept_at(name: str) -> datetime | None:
    """When the version named `name` was kept (None for a name that is not a version's)."""
    try:
        stamp, _, rest = name.partition(".")
        micros = int(rest[:6])
        return datetime.strptime(stamp, STAMP).replace(microsecond=micros, tzinfo=UTC)
    except ValueError:
        return None
