"""Putting a Git repository into the workspace: a shallow clone the first time, nbgitpuller's
merge (user's edits win) afterwards, a backup and a fresh clone when histories diverged."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable
from cygnet.core.paths import confine
from cygnet.core.proc import stream_bounded

from .policy import free_name, sweep_stale
from .puller import DIVERGED

GIT_PROTOCOLS = {"https", "http", "git", "ssh", "file"}  # the schemes that are also git protocol names


def git_env(settings):
    env = dict(os.environ)
    for name in [k for k in env if k.startswith("GIT_")]:
        del env[name]  # nothing of the server's git set-up steers a stranger's clone
    env.update({
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        # Also binds submodules and redirects to the allowed protocols.
        "GIT_ALLOW_PROTOCOL": ":".join(s for s in settings.policy.schemes if s in GIT_PROTOCOLS),
    })
    return env


def open_repo(url, branch, folder, settings, progress):
    """Clone `url` into `folder`, or bring new commits into the clone already there.
    Returns the folder it ended up in (a new one if `folder` holds something else)."""
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if _origin(folder) == url:
            return _update(url, branch, folder, settings, progress)
        other = folder.with_name(free_name(folder.parent, folder.name, is_folder=True))
        progress(f"{folder.name} already holds something else; cloning into {other.name}")
        folder = other
    _clone(url, branch, folder, settings, progress)
    return folder


def _origin(folder):
    if not (folder / ".git").is_dir():
        return None
    result = subprocess.run(["git", "-C", str(folder), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True)
    return result.stdout.strip() or None


def _clone(url, branch, folder, settings, progress):
    # Cloned under a hidden name and renamed when complete: never half a clone under its name.
    folder.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(folder.parent.glob(f".{folder.name}.cloning-*"), settings.timeout)
    staging = folder.with_name(f".{folder.name}.cloning-{os.getpid()}-{time.monotonic_ns()}")
    cmd = ["git", "clone", "--progress"]
    if settings.depth > 0:
        cmd += ["--depth", str(settings.depth)]
    if branch:
        cmd += ["--branch", branch]
    cmd += ["--", url, str(staging)]
    try:
        _check(_run(cmd, settings, progress, f"cloning {url}", watch_dir=staging), f"cloning {url}")
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _update(url, branch, folder, settings, progress):
    progress(f"{folder.name} is already here: bringing in new commits, keeping your changes")
    cmd = [sys.executable, "-m", "cygnet.server.opener.puller", url, str(folder), "--depth", str(settings.depth)]
    if branch:
        cmd += ["--branch", branch]
    what = f"updating {folder.name} from {url}"
    result = _run(cmd, settings, progress, what, watch_dir=folder)
    if result[0] == DIVERGED:
        backup = folder.with_name(free_name(folder.parent, f"{folder.name}-backup-{time.strftime('%Y%m%d-%H%M%S')}",
                                            is_folder=True))
        progress(f"your copy and {url} have histories that cannot be merged: "
                 f"moving your copy to {backup.name} and cloning afresh")
        folder.rename(backup)
        _clone(url, branch, folder, settings, progress)
    else:
        _check(result, what)
    return folder


def _run(cmd, settings, progress, what, watch_dir):
    """Run git (or the puller), streaming its lines; returns (exit code, its last lines).
    Stopped past the time limit, or when `watch_dir` grows past the size limit."""
    last = []

    def on_line(line):
        last[:] = (last + [line])[-2:]
        progress(line)

    def watch():
        if _size(watch_dir) > settings.max_bytes:
            raise BadInput(f"{what}: larger than this site's limit of {settings.max_bytes // 2**20} MiB, stopped")

    code = stream_bounded(cmd, timeout=settings.timeout, what=what, on_line=on_line, watch=watch,
                          env=git_env(settings))
    return code, last


def _check(result, what):
    code, last = result
    if code != 0:
        raise CygnetError(f"{what} failed: {'; '.join(last) or f'exit {code}'}")


def _size(folder):
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def repository_of(workspace, relative):
    """{repo, branch, path} of the Git checkout in the workspace that holds `relative` (for
    "copy open-link" on a notebook); NotFound if it is in none or the checkout has no remote."""
    target = confine(workspace, relative)
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        raise NotFound(f"{relative} does not exist in the workspace")

    def git(*args):
        try:
            result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"git did not answer within 10 s in {relative}'s folder") from None
        return result.stdout.strip() if result.returncode == 0 else ""

    top = git("rev-parse", "--show-toplevel")
    root = Path(workspace).resolve()
    if not top or (Path(top).resolve() != root and root not in Path(top).resolve().parents):
        raise NotFound(f"{relative} is not inside a Git repository of the workspace")
    origin = git("config", "--get", "remote.origin.url")
    if not origin:
        raise NotFound(f"the repository holding {relative} has no remote 'origin' to link to")
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    inside = target.relative_to(Path(top).resolve()).as_posix()
    return {"repo": origin, "branch": "" if branch == "HEAD" else branch, "path": "" if inside == "." else inside}
