"""The session's key: 32 random bytes (base64url) that only the session's own processes know,
kept in a 0600 file of the user's data dir ($CYGNET_SESSION_KEY names it, for kernels). The
session's servers that answer over TCP and cannot check a login themselves (Spark's UIs, the
Dask dashboard) require it, and the session's Jupyter server presents it on the requests it
proxies for the logged-in user; another account that reaches their ports directly is refused.

Standard library only: kernels read it too."""

import base64
import os
import secrets

from . import contract


def key_path(data_dir: str) -> str:
    return os.path.join(data_dir, "session.key")


def session_key(path: str | None = None) -> str:
    """The key from `path` (default $CYGNET_SESSION_KEY), made there first if missing (0600).
    With no path at all (a kernel outside a server), a key of this process alone, so what it
    protects answers nobody else."""
    path = path or contract.SESSION_KEY.get()
    if not path:
        return new_key()
    try:
        with open(path) as f:
            key = f.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    key = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        with open(path) as f:
            return f.read().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
