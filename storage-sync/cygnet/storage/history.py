"""A workspace file's versions in the box, and a readable diff between any two versions of a file.

The box keeps a file's previous versions beside the folder a sync mirrored it into
(cygnet.storage.versions). Which box folders those are is known from the user's finished sync
jobs: each mirrored a workspace folder (`src`) into a box folder (`dest`), so a file inside `src`
has its versions under that `dest`. A version's id is `<dest>/<version name>` (`<version name>`
for the box's top folder).
"""

from __future__ import annotations

import difflib
import io
import posixpath

from cygnet.core.errors import BadInput, NotFound

from .box import box_subfolder, open_box
from .versions import FOLDER, kept_at, versions

MAX_DIFF_LINES = 5000  # lines of a diff shown; the rest is summed up


def places(jobs, path: str) -> list[tuple[str, str]]:
    """(box folder, path inside it) for each box folder a finished sync mirrored a workspace
    folder holding `path` into, newest sync first, each once."""
    found: list[tuple[str, str]] = []
    for job in jobs:
        if job.get("state") != "done" or job.get("dry_run"):
            continue
        src = posixpath.normpath(job["src"].strip("/") or ".")
        if src == ".":
            rel = path
        elif path.startswith(src + "/"):
            rel = path[len(src) + 1 :]
        else:
            continue
        place = (job.get("dest") or "", rel)
        if place not in found:
            found.append(place)
    return found


def box_versions(box_url: str, where: list[tuple[str, str]]) -> list[dict]:
    """The versions the box keeps of a file, newest first: {id, when, size, where}."""
    found = []
    for dest, rel in where:
        box = open_box(box_subfolder(box_url, dest))
        for version in versions(box, rel):
            name = version["id"]
            found.append({**version, "id": f"{dest}/{name}" if dest else name, "where": box.display})
    return sorted(found, key=lambda v: v["when"], reverse=True)


def read_box_version(box_url: str, where: list[tuple[str, str]], version_id: str) -> bytes:
    """The bytes of one kept version of a file (`where` as from `places`)."""
    dest, _, name = version_id.rpartition("/")
    if kept_at(name) is None:
        raise BadInput(f"{version_id!r} is not the id of a version in the box")
    rel = next((rel for d, rel in where if d == dest), None)
    if rel is None:
        raise NotFound(f"no sync put this file into the box folder {dest or '/'!r}")
    box = open_box(box_subfolder(box_url, dest))
    try:
        return box.read(f"{FOLDER}/{rel}/{name}", within=FOLDER)
    except FileNotFoundError:
        raise NotFound(f"the box no longer keeps the version {version_id!r}") from None


def diff_text(path: str, old: bytes, new: bytes, old_name: str = "a", new_name: str = "b") -> str:
    """A readable diff: nbdime's, cell by cell, for notebooks; a unified diff for text; a
    sentence for other files. Empty when the two are the same."""
    if old == new:
        return ""
    if path.endswith(".ipynb"):
        try:
            return _notebook_diff(old, new, old_name, new_name)
        except ValueError:
            pass  # not a readable notebook on one side: compared as text
    try:
        a, b = old.decode(), new.decode()
    except UnicodeDecodeError:
        return f"binary files differ ({len(old)} and {len(new)} bytes)\n"
    lines = list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), old_name, new_name))
    return _bounded(lines)


def _notebook_diff(old: bytes, new: bytes, old_name: str, new_name: str) -> str:
    import nbdime
    import nbformat
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_notebook_diff

    try:
        a = nbformat.reads(old.decode(), as_version=4)
        b = nbformat.reads(new.decode(), as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises several kinds for a bad notebook
        raise ValueError(str(e)) from e
    out = io.StringIO()
    config = PrettyPrintConfig(out=out, use_color=False, use_git=False, use_diff=False)
    pretty_print_notebook_diff(old_name, new_name, a, nbdime.diff_notebooks(a, b), config)
    return _bounded(out.getvalue().splitlines(True))


def _bounded(lines: list[str]) -> str:
    if len(lines) <= MAX_DIFF_LINES:
        return "".join(lines)
    return "".join(lines[:MAX_DIFF_LINES]) + f"... and {len(lines) - MAX_DIFF_LINES} more lines\n"
