"""Keeping paths from requests inside the folder they belong to."""

from pathlib import Path, PurePosixPath

from .errors import BadInput


def confine(workspace, relative):
    """The absolute path of `relative` inside `workspace`; BadInput if it would leave it
    (absolute paths, '..', or symlinks pointing outside)."""
    relative = (relative or "").strip()
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\0" in relative:
        raise BadInput(f"path {relative!r} must stay inside the workspace")
    root = Path(workspace).resolve()
    target = (root / pure).resolve()
    if target != root and root not in target.parents:
        raise BadInput(f"path {relative!r} leads outside the workspace")
    return target
