"""Keeping paths from requests inside the folder they belong to."""

import os
from pathlib import Path, PurePosixPath

from . import contract
from .checks import text
from .errors import BadInput

NAME_MAX = 255  # bytes of one path component on Linux


def confine(workspace: str | os.PathLike, relative: str | None) -> Path:
    """The absolute path of `relative` inside `workspace`; BadInput if it would leave it
    (absolute paths, '..', or symlinks pointing outside)."""
    relative = (text(relative, "path", required=False, allow_empty=True) or "").strip()
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise BadInput(f"path {relative!r} must stay inside the workspace")
    if any(len(part.encode()) > NAME_MAX for part in pure.parts):
        raise BadInput(f"path {relative[:80]!r}... has a name longer than {NAME_MAX} bytes")
    root = Path(workspace).resolve()
    target = (root / pure).resolve()
    if target != root and root not in target.parents and not in_shared_folder(target):
        raise BadInput(f"path {relative!r} leads outside the workspace")
    return target


def in_shared_folder(path: Path) -> bool:
    """Whether a resolved path lies in a live shared folder (`<space>/<id>/<name>/...`, where a
    link in the workspace leads; cygnet.shares.live_folders): the user's as much as the
    workspace is, and the file system lets in only its members."""
    space = contract.SHARED_FOLDERS_ROOT.get()
    if not space:
        return False
    space_path = Path(space).resolve()
    return space_path in path.parents and len(path.relative_to(space_path).parts) >= 2


def from_shell(path: str, workspace: str | os.PathLike) -> str:
    """A path a user typed in a shell (absolute, or relative to the current folder) as the
    workspace-relative path the cores take, when it lies inside the workspace; otherwise as
    typed, for `confine` to refuse or to read relative to the workspace."""
    if not path:
        return path
    root = Path(workspace).resolve()
    typed = Path(path)
    full = (typed if typed.is_absolute() else Path.cwd() / typed).resolve()
    if typed.is_absolute() or full.exists():
        if full == root or root in full.parents:
            return full.relative_to(root).as_posix() or "."
    return path


def free_name(folder: str | os.PathLike, name: str, is_folder: bool = False) -> str:
    """`name` in `folder`, or name-1, name-2, ... (before a file's suffix) if taken: never
    overwrite anything."""
    folder = Path(folder)
    stem, suffix = (name, "") if is_folder else os.path.splitext(name)
    candidate, n = name, 0
    while (folder / candidate).exists() or (folder / candidate).is_symlink():
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return candidate


def place_new(source: str | os.PathLike, folder: str | os.PathLike, name: str) -> Path:
    """Move the file or folder `source` into `folder` as `name`, or name-1, name-2, ... if taken,
    never replacing anything, even when another writer picks a name at the same moment (no lock
    needed: the name is claimed by a link or a mkdir that fails if it exists). Returns the path."""
    source, folder = Path(source), Path(folder)
    is_folder = source.is_dir()
    while True:
        final = folder / free_name(folder, name, is_folder=is_folder)
        try:
            if is_folder:
                final.mkdir()  # claims the name; the rename then replaces this empty folder
                os.replace(source, final)
            else:
                os.link(source, final)
                os.unlink(source)
            return final
        except FileExistsError:
            continue  # taken between the check and the claim: try the next name


def tree_size(folder: str | os.PathLike) -> int:
    """The bytes of the files under `folder` (links counted as links), for size limits; files
    that vanish while counting are skipped."""
    total = 0
    for root, _dirs, files in os.walk(os.fspath(folder)):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
