"""The opener's core: `open_link` takes a link's parameters and reports progress lines through
a callback; a lock per target keeps two opens of the same folder from interleaving."""

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from cygnet.core import checks
from cygnet.core.errors import BadInput

from .download import download_into
from .gitrepo import open_repo
from .links import LINK_PARAMETERS as PARAMETERS
from .policy import OpenPolicy, confine, repo_folder_name

_locks = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class OpenSettings:
    policy: OpenPolicy = OpenPolicy()
    projects_dir: str = ""  # relative to the workspace
    timeout: float = 300.0
    max_bytes: int = 1 << 30
    depth: int = 1
    shares: object = None  # the ShareStore that share= and shared= links copy from
    # env=1: (checkout folder, progress) -> the kernel name of the repository's environment
    environments: object = None


@dataclass
class Opened:
    """What an open did: the path to open (relative to the workspace) and what the user should
    know about their own work: the files changed on both sides (their edits kept), or, when
    their copy had to be moved aside, what they find only in that backup."""

    path: str
    backup: dict = None  # {"folder", "only_in_backup": [...], "differ": [...]}
    kept_yours: list = None  # files changed both here and upstream, the user's edits kept
    kernel: str = None  # env=1: the kernel of the repository's environment

    def to_dict(self):
        return asdict(self)


def settings_from(config):
    """OpenSettings from the site's c.Cygnet options."""
    return OpenSettings(
        policy=OpenPolicy(
            schemes=tuple(s.lower() for s in config.open_allowed_schemes),
            hosts=tuple(h.lower() for h in config.open_allowed_hosts),
            internal=tuple(h.lower() for h in config.open_internal_hosts),
        ),
        projects_dir=config.open_projects_dir,
        timeout=config.open_timeout,
        max_bytes=config.open_max_bytes,
        depth=config.open_clone_depth,
    )


def check_params(params):
    """BadInput for a parameter a link cannot have, or a value that is not text, before anything
    starts."""
    unknown = set(params) - set(PARAMETERS)
    if unknown:
        raise BadInput(f"unknown link parameter(s): {', '.join(sorted(unknown))}")
    for name, value in params.items():
        checks.text(value, name, required=False, allow_empty=True)
    return params


def open_link(params, workspace, settings, progress=lambda line: None):
    """Do what a link asks; returns an Opened."""
    check_params(params)
    repo, url = params.get("repo"), params.get("url")
    share = params.get("share") or params.get("shared") or params.get("gallery")
    if sum(map(bool, (repo, url, share))) != 1:
        raise BadInput(
            "a link needs one of repo= (a Git repository), url= (a notebook or zip), share= (a share link's "
            "token) or gallery= (a notebook of the site's gallery)"
        )
    workspace = Path(workspace).resolve()
    report = None
    wants_env = _flag(params.get("env"), "env")
    if wants_env and not repo:
        raise BadInput("env=1 builds a repository's environment: it goes with repo=")
    if wants_env and settings.environments is None:
        raise BadInput("building environments from links is not enabled here")
    if share:
        return Opened(_copy_share(params, workspace, settings, progress))
    if repo:
        repo = settings.policy.check_remote(repo)
        target = params.get("target") or str(Path(settings.projects_dir) / repo_folder_name(repo))
        folder = confine(workspace, target)
        with _lock(folder):
            opened, report = open_repo(repo, params.get("branch") or None, folder, settings, progress)
        source = f"the repository {repo}"
        kernel = settings.environments(opened, progress) if wants_env else None
    else:
        url = settings.policy.check_download(url)
        folder = confine(workspace, params.get("target") or settings.projects_dir)
        # No lock: downloads land under names nothing has (place_new), so a slow download
        # never holds up others into the same folder.
        opened = download_into(url, folder, settings, progress)
        source = f"the archive {url}"
        kernel = None
    if params.get("path"):
        opened = confine(opened, params["path"])
        if not opened.exists():
            raise BadInput(f"{params['path']} is not in {source}")
    report = report or {}
    relative = opened.relative_to(workspace).as_posix()
    return Opened(relative, report.get("backup"), report.get("kept_yours"), kernel)


def _flag(value, name):
    if value in (None, "", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise BadInput(f"{name}= is 1 or 0, not {value!r}")


def _copy_share(params, workspace, settings, progress):
    """A copy of a share's snapshot in the workspace, under a name nothing has yet."""
    from cygnet.core.identity import current_user

    if settings.shares is None:
        raise BadInput("share links are not enabled here")
    if params.get("share"):
        share = settings.shares.resolve(params["share"])
    elif params.get("gallery"):  # a published notebook: anyone logged in to the hub may copy it
        share = settings.shares.from_gallery(params["gallery"])
    else:  # shared=ID: a share that names the current user
        share = settings.shares.for_user(params["shared"], current_user())
    folder = confine(workspace, params.get("target") or settings.projects_dir)
    progress(f"copying the shared {share.kind} {share.name} into {folder.relative_to(workspace).as_posix() or '.'}")
    opened = settings.shares.copy_into(share, folder)
    progress(f"copied as {opened.name}")
    return opened.relative_to(workspace).as_posix()


def _lock(folder):
    with _locks_guard:
        return _locks.setdefault(str(folder), threading.Lock())
