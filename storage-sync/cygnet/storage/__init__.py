"""Storage: EOS-style storage over XRootD, the box (a folder on a local disk or a WebDAV server)
and the sync engine that mirrors a workspace folder to it.

In a kernel, `open`, `ls`, `stat`, `copy`, `rm`, `mkdir` take root:// URLs and local paths alike.
A bare relative path means the user's EOS home when the site configured a storage endpoint
($CYGNET_STORAGE_ENDPOINT, from Cygnet.storage_endpoint), else the current folder.
`sync(src, dest)` mirrors a folder to the box (see `cygnet.storage.sync_engine`).
This file imports nothing heavy.
"""

import os

# Kernel-side packages this one needs on a kernel's path (cygnet.kernels.isolation).
KERNEL_REQUIRES = ("cygnet.core",)


def home():
    """The user's EOS home: root://endpoint//eos/user/<u>/<user>."""
    from cygnet.core import contract
    from cygnet.core.identity import current_user

    from .xrootd import home as _home

    return _home(contract.STORAGE_ENDPOINT.get(), contract.STORAGE_HOME.get(), current_user())


def resolve(target):
    """A root:// URL or local path for `target`: relative paths go to the EOS home if configured."""
    from .xrootd import is_url

    target = os.fspath(target)
    if "://" in target and not is_url(target):
        from cygnet.core.errors import BadInput

        raise BadInput(f"not an XRootD URL (root://host//path) or a local path: {target!r}")
    if is_url(target) or os.path.isabs(target) or target.startswith("."):
        return target
    from cygnet.core import contract

    if contract.STORAGE_ENDPOINT.get():
        return home().rstrip("/") + "/" + target
    return target


def open(target, mode="rb"):  # noqa: A001 - the name users expect, like builtins.open
    """A file object on a root:// URL or a local path ('rb', 'wb', 'r', 'w')."""
    from .xrootd import is_url, open_url

    target = resolve(target)
    if is_url(target):
        return open_url(target, mode)
    import builtins

    return builtins.open(target, mode)


def ls(target="."):
    from .xrootd import is_url
    from .xrootd import ls as _ls

    target = resolve(target)
    if is_url(target):
        return _ls(target)
    return [_local_stat(os.path.join(target, name)) for name in sorted(os.listdir(target))]


def stat(target):
    from .xrootd import is_url
    from .xrootd import stat as _stat

    target = resolve(target)
    return _stat(target) if is_url(target) else _local_stat(target)


def copy(src, dst, parallel=4, progress=None):
    """Copy a file between root:// URLs and local paths; returns the bytes copied."""
    from .xrootd import copy as _copy
    from .xrootd import is_url

    src, dst = resolve(src), resolve(dst)
    if not (is_url(src) or is_url(dst)):
        import shutil

        shutil.copyfile(src, dst)
        return os.path.getsize(dst)
    return _copy(src, dst, parallel=parallel, progress=progress)


def rm(target):
    from .xrootd import is_url
    from .xrootd import rm as _rm

    target = resolve(target)
    return _rm(target) if is_url(target) else os.unlink(target)


def mkdir(target, parents=True):
    from .xrootd import is_url
    from .xrootd import mkdir as _mkdir

    target = resolve(target)
    if is_url(target):
        return _mkdir(target, parents)
    return os.makedirs(target, exist_ok=parents) if parents else os.mkdir(target)


def sync(src, dest, **options):
    """Mirror the folder `src` to the box folder `dest`; returns the summary (a dict)."""
    from .sync_engine import sync as _sync

    return _sync(src, dest, **options).to_dict()


def _local_stat(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        from cygnet.core.errors import NotFound

        raise NotFound(f"{path}: no such file or folder") from None
    return {
        "name": os.path.basename(path),
        "url": os.path.abspath(path),
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "type": "directory" if os.path.isdir(path) else "file",
    }
