"""The environment a view gives: its setup.sh sourced in a clean bash, then the user's
environment script if there is one (SWAN's), captured, and cached.

Sourcing a real LCG setup.sh from CVMFS takes seconds, so the result is kept on disk (and in
memory) keyed on the view's path, setup.sh's size, mtime and content, the environment script's
path and content, and the base environment: a kernel start with a warm cache sources nothing.
"""

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cygnet.core.atomic import atomic_write
from cygnet.core.errors import Unavailable
from cygnet.core.proc import run_bounded, tail

CACHE_FORMAT = 2
# What a clean login shell would carry over; everything else must come from setup.sh.
BASE_VARIABLES = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
# Variables bash itself sets, which say nothing about the view.
SHELL_NOISE = {"_", "SHLVL", "PWD", "OLDPWD"}
# `. setup.sh` with no positional parameters (some setup scripts parse "$@"); its output goes
# to stderr so stdout carries nothing but the NUL-separated environment.
FIND_IPYKERNEL = (
    "import importlib.util, sys\n"
    "if importlib.util.find_spec('ipykernel') is None: sys.exit('No module named ipykernel')"
)
# The user's script follows a marker line, so a failure is told apart from setup.sh's.
SCRIPT_MARKER = "--- cygnet: the environment script starts here ---"
SOURCE_SCRIPT = (
    'f="$1"; s="$2"; shift 2; . "$f" 1>&2 || exit $?; '
    f'if [ -n "$s" ]; then echo "{SCRIPT_MARKER}" >&2; cd "$(dirname "$s")" && . "$s" 1>&2 || exit $?; fi; '
    "exec env -0"
)


@dataclass
class ViewEnvironment:
    view: str  # <release>/<platform>
    env: dict  # the complete environment after sourcing setup.sh
    base: dict  # the clean environment it was sourced in
    kernel_problem: str = ""  # why this view cannot run a Jupyter kernel; empty when it can
    resolved_at: float = field(default_factory=time.time)

    def diff(self):
        """What setup.sh changed: {added: {k: v}, changed: {k: [old, new]}, removed: [k]}."""
        return env_diff(self.base, self.env)


def clean_base_env(source=None):
    source = os.environ if source is None else source
    env = {k: source[k] for k in BASE_VARIABLES if k in source}
    env["PATH"] = BASE_PATH
    env.setdefault("HOME", os.path.expanduser("~"))
    return env


def env_diff(base, env):
    return {
        "added": {k: v for k, v in sorted(env.items()) if k not in base},
        "changed": {k: [base[k], v] for k, v in sorted(env.items()) if k in base and base[k] != v},
        "removed": sorted(k for k in base if k not in env),
    }


class EnvironmentCache:
    """Resolves views' environments at most once per setup.sh version, across processes."""

    def __init__(self, cache_dir, timeout=300.0):
        self.dir = Path(cache_dir) / "view-env"
        self.timeout = timeout
        self._memory = {}
        self._locks = {}
        self._guard = threading.Lock()
        self.failures = {}  # view name -> the last resolution error, for listings

    def get(self, view, base_env=None, script=None):
        """The view's environment (with the environment `script` sourced after setup.sh),
        sourcing only when nothing cached matches. Only environments that can run a kernel are
        cached: a broken view is looked at again next time, so fixing it needs no cache flush.
        A failing script is the user's problem, not the view's: the view stays listed."""
        base = clean_base_env() if base_env is None else dict(base_env)
        key = self._key(view, base, script)
        with self._lock_for(key):
            cached = self._memory.get(key) or self._load(view, key)
            if cached is None:
                try:
                    cached = resolve(view, base, self.timeout, script)
                except EnvScriptFailed:
                    raise
                except Unavailable as e:
                    self.failures[view.name] = str(e)
                    raise
                if cached.kernel_problem:
                    self.failures[view.name] = cached.kernel_problem
                    return cached
                self._store(view, key, cached)
            self.failures.pop(view.name, None)
            self._memory[key] = cached
            return cached

    def known_problems(self):
        """View name -> why it could not be used when last tried by this process."""
        return dict(self.failures)

    def clear(self, view=None):
        """Forget cached environments (of one view, or all), so the next use sources again."""
        with self._guard:
            if view is None:
                self._memory.clear()
                self.failures.clear()
            else:
                self._memory = {k: v for k, v in self._memory.items() if v.view != view.name}
                self.failures.pop(view.name, None)
        prefix = _slug(view) + "-" if view else ""
        for path in self.dir.glob(f"{prefix}*.json"):
            path.unlink(missing_ok=True)

    def _lock_for(self, key):
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _key(self, view, base, script=None):
        try:
            st = view.setup.stat()
            content = view.setup.read_bytes()
        except OSError as e:
            raise Unavailable(f"view {view.name}: cannot read {view.setup}: {e.strerror}") from e
        try:
            script_hash = hashlib.sha256(Path(script).read_bytes()).hexdigest() if script else ""
        except OSError as e:
            raise EnvScriptFailed(f"your environment script {script} cannot be read: {e.strerror}") from e
        material = json.dumps(
            [
                CACHE_FORMAT,
                str(view.path),
                st.st_size,
                st.st_mtime_ns,
                hashlib.sha256(content).hexdigest(),
                sorted(base.items()),
                str(script or ""),
                script_hash,
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def _path(self, view, key):
        return self.dir / f"{_slug(view)}-{key}.json"

    def _load(self, view, key):
        try:
            data = json.loads(self._path(view, key).read_text())
            return ViewEnvironment(**data)
        except (OSError, ValueError, TypeError):
            return None  # absent or damaged: source again

    def _store(self, view, key, venv):
        # One entry per view: older versions of its setup.sh are dropped.
        for old in self.dir.glob(f"{_slug(view)}-*.json"):
            old.unlink(missing_ok=True)
        atomic_write(self._path(view, key), json.dumps(venv.__dict__))


class EnvScriptFailed(Unavailable):
    """The user's environment script failed or cannot be read: no kernel starts half set up."""


def resolve(view, base_env, timeout, script=None):
    """Source the view's setup.sh (then `script`) in a clean bash and return what it gives.
    No cache."""
    what = f"view {view.name}: sourcing {view.setup}" + (f" and your environment script {script}" if script else "")
    result = run_bounded(
        ["bash", "--noprofile", "--norc", "-c", SOURCE_SCRIPT, "cygnet-setup", str(view.setup), str(script or "")],
        timeout=timeout,
        what=what,
        env=base_env,
        cwd=view.path,
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace") if isinstance(result.stderr, bytes) else result.stderr or ""
        if SCRIPT_MARKER in stderr:
            detail = tail(stderr.split(SCRIPT_MARKER, 1)[1].strip(), 5) or "no output"
            raise EnvScriptFailed(
                f"your environment script {script} failed (exit {result.returncode}) after view {view.name}'s "
                f"setup.sh; no kernel or terminal starts in a half-set environment. Its last lines: {detail}"
            )
        detail = tail(result.stderr) or "no message"
        raise Unavailable(f"view {view.name}: setup.sh failed (exit {result.returncode}): {detail}")
    env = {}
    for item in result.stdout.decode("utf-8", "replace").split("\0"):
        name, sep, value = item.partition("=")
        if sep and name not in SHELL_NOISE:
            env[name] = value
    return ViewEnvironment(view.name, env, dict(base_env), _kernel_problem(view, env, timeout))


def _kernel_problem(view, env, timeout):
    """Why the view's Python cannot run ipykernel, or '' when it can."""
    what = f"view {view.name}: checking its Python"
    try:
        # find_spec locates ipykernel without importing it: a tenth of the time of an import.
        result = run_bounded(
            [str(view.python), "-c", FIND_IPYKERNEL], timeout=min(timeout, 120), what=what, env=env, cwd=view.path
        )
    except Unavailable as e:
        return str(e)
    if result.returncode != 0:
        return f"view {view.name}: its Python cannot import ipykernel: {tail(result.stderr, 1)}"
    return ""


def _slug(view):
    return f"{view.release}--{view.platform}".replace(os.sep, "_")
