"""Putting a Git repository into the workspace: a shallow clone the first time, nbgitpuller's
merge (user's edits win) afterwards, a backup and a fresh clone when histories diverged."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable
from cygnet.core.paths import confine, tree_size
from cygnet.core.proc import stream_bounded

from .policy import free_name, sweep_stale
from .puller import DIVERGED, KEPT_YOURS

GIT_PROTOCOLS = {"https", "http", "git", "ssh", "file"}  # the schemes that are also git protocol names


def git_env(settings, url=None):
    env = dict(os.environ)
    for name in [k for k in env if k.startswith("GIT_")]:
        del env[name]  # nothing of the server's git set-up steers a stranger's clone
    config = {"http.followRedirects": "false"}  # a redirect could lead anywhere, unchecked
    pinned = _pinned_address(url, settings) if url else None
    if pinned:
        config["http.curloptResolve"] = pinned  # no second lookup that could rebind the name
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env.update(
        {
            "LANG": "C",
            "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
            # Also binds submodules and redirects to the allowed protocols.
            "GIT_ALLOW_PROTOCOL": ":".join(s for s in settings.policy.schemes if s in GIT_PROTOCOLS),
        }
    )
    return env


def _pinned_address(url, settings):
    """host:port:address for curl, with the address the policy checked (http and https)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    address = settings.policy.address_of(url, parts.hostname.lower(), port)
    return f"{parts.hostname}:{port}:{f'[{address}]' if ':' in address else address}"


# What git prints when it cannot reach a server, whatever the cause: all reported in the same
# words, so a link cannot tell open ports from closed ones on the site's network.
_CONNECTION_FAILURES = re.compile(
    r"unable to access|failed to connect|could not resolve|connection (refused|reset|timed out)|"
    r"unable to connect|could not read from remote|remote end hung up|early eof|operation timed out|"
    r"empty reply|recv failure|ssl|redirect",
    re.IGNORECASE,
)


def open_repo(url, branch, folder, settings, progress):
    """Clone `url` into `folder`, or bring new commits into the clone already there.
    Returns (the folder it ended up in, a report or None: {"kept_yours": [files changed on both
    sides]} after a merge, {"backup": backup_report(...)} after a backup). A folder that holds something
    else is never touched: the clone goes beside it. A checkout of the same repository on
    another branch is kept too: a branch asked for by name gets its own folder, <name>-<branch>."""
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if _origin(folder) == url:
            current = _git_out(folder, "rev-parse", "--abbrev-ref", "HEAD")
            if not branch or branch == current:
                return _update(url, branch, folder, settings, progress)
            beside = folder.with_name(f"{folder.name}-{_safe_name(branch)}")
            progress(f"{folder.name} holds the branch {current}; opening {branch} in {beside.name}")
            return open_repo(url, branch, beside, settings, progress) if beside != folder else (folder, None)
        other = folder.with_name(free_name(folder.parent, folder.name, is_folder=True))
        progress(f"{folder.name} already holds something else; cloning into {other.name}")
        folder = other
    _clone(url, branch, folder, settings, progress)
    return folder, None


def _safe_name(branch):
    return re.sub(r"[^A-Za-z0-9._-]", "_", branch).strip(".") or "branch"


def _git_out(folder, *args):
    try:
        result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"git did not answer within 10 s in {folder.name}") from None
    return result.stdout.strip() if result.returncode == 0 else ""


def _origin(folder):
    if not (folder / ".git").is_dir():
        return None
    return _git_out(folder, "config", "--get", "remote.origin.url") or None


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
        _check(_run(cmd, settings, progress, f"cloning {url}", staging, url), f"cloning {url}", url)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _update(url, branch, folder, settings, progress):
    progress(f"{folder.name} is already here: bringing in new commits, keeping your changes")
    cmd = [sys.executable, "-m", "cygnet.server.opener.puller", url, str(folder), "--depth", str(settings.depth)]
    if branch:
        cmd += ["--branch", branch]
    what = f"updating {folder.name} from {url}"
    kept = []

    def follow(line):
        if line.startswith(KEPT_YOURS):
            kept.append(line[len(KEPT_YOURS) :])
        progress(line)

    result = _run(cmd, settings, follow, what, folder, url)
    if result[0] != DIVERGED:
        _check(result, what, url)
        return folder, ({"kept_yours": kept} if kept else None)
    backup = folder.with_name(
        free_name(folder.parent, f"{folder.name}-backup-{time.strftime('%Y%m%d-%H%M%S')}", is_folder=True)
    )
    progress(
        f"your copy and {url} have histories that cannot be merged: "
        f"moving your copy to {backup.name} and cloning afresh"
    )
    folder.rename(backup)
    _clone(url, branch, folder, settings, progress)
    report = backup_report(backup, folder)
    for line in _report_lines(report):
        progress(line)
    return folder, {"backup": report}


def backup_report(backup, fresh):
    """What the user finds only in the backup, and what differs between the backup and the
    fresh clone (their edits of files upstream also has): paths relative to the folders."""
    mine, theirs = _files(backup), _files(fresh)
    only = sorted(set(mine) - set(theirs))
    differ = sorted(rel for rel in set(mine) & set(theirs) if not _same(backup / rel, fresh / rel))
    return {"folder": backup.name, "only_in_backup": only, "differ": differ}


def _report_lines(report, most=20):
    lines = [f"your previous copy is kept, whole, in {report['folder']}"]
    for key, words in (("only_in_backup", "only in the backup"), ("differ", "your version differs from upstream's")):
        names = report[key]
        if names:
            shown = ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
            lines.append(f"{words}: {shown}")
    return lines


def _files(folder):
    found = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder).replace(os.sep, "/")] = path
    return found


def _same(a, b):
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        return Path(a).read_bytes() == Path(b).read_bytes()
    except OSError:
        return False


def _run(cmd, settings, progress, what, watch_dir, url):
    """Run git (or the puller), streaming its lines; returns (exit code, its last lines).
    Stopped past the time limit, or when `watch_dir` grows past the size limit."""
    last = []

    def on_line(line):
        last[:] = (last + [line])[-2:]
        progress(line)

    def watch():
        if tree_size(watch_dir) > settings.max_bytes:
            raise BadInput(f"{what}: larger than this site's limit of {settings.max_bytes // 2**20} MiB, stopped")

    code = stream_bounded(
        cmd, timeout=settings.timeout, what=what, on_line=on_line, watch=watch, env=git_env(settings, url)
    )
    return code, last


def _check(result, what, url):
    code, last = result
    if code == 0:
        return
    if any(_CONNECTION_FAILURES.search(line) for line in last):
        raise Unavailable(f"{what} failed: could not fetch {url}")
    raise CygnetError(f"{what} failed: {'; '.join(last) or f'exit {code}'}")


def repository_of(workspace, relative):
    """{repo, branch, path} of the Git checkout in the workspace that holds `relative` (for
    "copy open-link" on a notebook); NotFound if it is in none or the checkout has no remote."""
    target = confine(workspace, relative)
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        raise NotFound(f"{relative} does not exist in the workspace")

    def git(*args):
        return _git_out(folder, *args)

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
