"""Finding views under views roots, cheaply: nothing is sourced or run here, so listing a
CVMFS root costs a few stat calls per view."""

import json
import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

from cygnet.core.errors import BadInput, NotFound

from .model import View
from .shipped import kernel_dirs, shipped_kernels

BUILDING_MARKER = ".cygnet-building"
CUSTOM_ENV_INFO = "cygnet-env.json"  # in a custom environment: its base view and source
_PYTHON_LIB = re.compile(r"^python(\d+\.\d+)$")


def discover(roots, problems=None):
    """Every view under `roots` (earlier roots win on a name clash), sorted by name.
    What is not a view is ignored; a broken view is listed as unusable with the reason.
    `problems` maps view names to problems already seen when using them (a failing setup.sh)."""
    views = {}
    for root in roots:
        for view in _scan_root(Path(root)):
            views.setdefault(view.name, view)
    return with_problems(sorted(views.values(), key=lambda v: v.name), problems)


def with_problems(views, problems):
    """`views`, those with a problem seen when using them (`problems`: name -> reason) marked
    unusable with it; the same list when there is none."""
    if not problems:
        return views
    return [replace(v, usable=False, reason=problems[v.name]) if v.usable and v.name in problems else v for v in views]


def find_view(roots, name):
    """The view called `name` (<release>/<platform>), or NotFound naming the ones there are."""
    release, platform = split_name(name)
    for view in discover(roots):
        if (view.release, view.platform) == (release, platform):
            return view
    known = ", ".join(v.name for v in discover(roots)) or "none"
    raise NotFound(f"no view named {name!r} (views found: {known})")


def pick_default_view(views, preferred=""):
    """The configured default, else a usable view released as 'default', else the newest; a
    custom environment (built from a repository) only when configured by name."""
    usable = [v for v in views if v.usable]
    for view in usable:
        if view.name == preferred or (not preferred and view.release == "default"):
            return view
    stacks = [v for v in usable if not v.base]
    return stacks[-1] if stacks else None


def split_name(name):
    parts = str(name).strip("/").split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise BadInput(f"a view name is <release>/<platform>, not {name!r}")
    return parts[0], parts[1]


def _scan_root(root):
    try:
        releases = sorted(p for p in root.iterdir() if _is_candidate(p))
    except OSError:
        return  # a root that is absent or unreadable holds no views
    for release in releases:
        try:
            platforms = sorted(p for p in release.iterdir() if _is_candidate(p))
        except OSError:
            continue
        for platform in platforms:
            if _looks_like_view(platform):
                yield inspect_view(release.name, platform.name, platform)


def _is_candidate(path):
    return not path.name.startswith(".") and path.is_dir()


def _looks_like_view(path):
    return any((path / name).exists() for name in ("setup.sh", "bin", "lib", BUILDING_MARKER))


def inspect_view(release, platform, path):
    """Describe the view at `path`, saying why it cannot be used when it cannot."""
    python = next((p for p in (path / "bin" / "python3", path / "bin" / "python") if p.exists()), None)
    version = _python_version(path)

    def view(usable, reason=""):
        kernels = shipped_kernels(path) if usable else ()
        return View(release, platform, path, python, version, usable, reason, kernels, _base_of(path))

    if (path / BUILDING_MARKER).exists():
        return view(False, "its build did not finish; run `cygnet views build` again to complete it")
    if not (path / "setup.sh").is_file():
        return view(False, f"no setup.sh in {path}")
    if python is None:
        return view(False, f"no Python interpreter (bin/python3 or bin/python) in {path}")
    return view(True)


def _base_of(path):
    """The base view of a custom environment ('' for a view of the stack)."""
    try:
        return str(json.loads((path / CUSTOM_ENV_INFO).read_text()).get("base", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _python_version(path):
    # LCG views and virtual environments both have lib/pythonX.Y; the interpreter itself may
    # not run before setup.sh has set its library path, so it is not asked.
    try:
        found = [m.group(1) for p in (path / "lib").iterdir() if (m := _PYTHON_LIB.match(p.name))]
    except OSError:
        return None
    return max(found, key=lambda v: tuple(map(int, v.split(".")))) if found else None


class ViewsIndex:
    """One discovery pass, kept and reused until the views roots' folders change.

    A CVMFS views root holds hundreds of views and changes rarely. Every listing (kernel specs,
    the REST views list, kernel starts) reads the kept pass; whether it is still current is told
    by the modification times of the roots, releases, views and their kernel folders (a few
    stat calls per view, checked at most every `check_every` seconds), never by scanning again.
    """

    def __init__(self, roots, check_every=1.0):
        self.roots = [Path(r) for r in roots]
        self.check_every = check_every
        self._views = None
        self._signature = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def views(self, problems=None, fresh=False):
        """The views (as `discover` gives them); `fresh` checks for changes now."""
        with self._lock:
            now = time.monotonic()
            if self._views is None or fresh or now - self._checked_at >= self.check_every:
                signature = self._current_signature()
                if signature != self._signature or self._views is None:
                    self._views = discover(self.roots)
                    self._signature = signature
                self._checked_at = now
            views = self._views
        return with_problems(views, problems)

    def _current_signature(self):
        marks = []
        for root in self.roots:
            marks.append(_mtime(root))
            for release in _subdirs(root):
                marks.append(_mtime(release))
                for platform in _subdirs(release):
                    marks.append(_mtime(platform))
                    marks.extend(_mtime(folder) for folder in kernel_dirs(platform))
        return tuple(marks)


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _subdirs(path):
    try:
        return [Path(e.path) for e in os.scandir(path) if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
