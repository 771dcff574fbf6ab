"""Startup of Cygnet's own processes (the single-user server, `cygnet up`, batch jobs, `cygnet
run`), without work nothing in them uses:
- jsonschema loads rfc3987-syntax when it is installed, an optional checker of IRI formats that
  builds a parser at import: 1.1 s of a single-user server's 3 s start here (jupyter_server
  imports jsonschema through jupyter_events), 0.7 s of a batch job's. Nothing Cygnet or Jupyter
  validates uses an IRI format, so these processes go without it.
- JupyterLab reads its own version when `jupyterlab.labapp` is imported, through `AppOptions()`,
  whose registry default runs `node yarn.js config --json` when Node.js is on the PATH: 0.37 s
  of every server's start here, for a registry the version does not depend on
  (`_app_version_without_node`).
- httpx imports its command-line client when click, rich and pygments are installed (Jupyter's
  stack brings them): 40 ms of every `cygnet sync` to a WebDAV box, a third of loading the
  WebDAV client. httpx falls back to a stub `httpx.main` without it; nothing calls it here.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # importlib.abc alone cost every `cygnet` command 13 ms (`cygnet sync` is timed)
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any


def skip_slow_optional_imports() -> None:
    """Make `import rfc3987_syntax` and `import httpx._main` fail, so jsonschema leaves IRI
    formats unchecked and httpx goes without its command line, and patch the modules in
    AFTER_IMPORT as they load. Call it before anything imports jsonschema or
    JupyterLab; for Cygnet's own processes only."""
    for optional in ("rfc3987_syntax", "httpx._main"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]  # None: "not importable"
    if not any(isinstance(finder, _PatchAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())


def real_spec(
    finder: object, name: str, path: Sequence[str] | None, target: ModuleType | None = None
) -> ModuleSpec | None:
    """The spec the other finders on sys.meta_path give `name` (for a finder that wraps loaders)."""
    for other in sys.meta_path:
        if other is finder or not hasattr(other, "find_spec"):
            continue
        spec = other.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            return spec
    return None


def _app_version_without_node(commands: ModuleType) -> None:
    """`get_app_version()` without options reads the version with the default registry given.
    Builds and the extension manager make options of their own and still read yarn's
    configuration when they need a registry."""
    read_version: Callable[[Any], str] = getattr(commands, "get_app_version")  # noqa: B009 - a module known at run time

    def get_app_version(app_options: Any = None) -> str:
        if app_options is None:
            app_options = commands.AppOptions(registry=commands.YARN_DEFAULT_REGISTRY)
        return read_version(app_options)

    setattr(commands, "get_app_version", get_app_version)  # noqa: B010


# Modules patched right after they load (before whatever imported them reads their names).
AFTER_IMPORT: dict[str, Callable[[ModuleType], None]] = {"jupyterlab.commands": _app_version_without_node}


class _PatchAfterImport:
    """A finder on sys.meta_path (the protocol needs no base class)."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in AFTER_IMPORT:
            return None
        spec = real_spec(self, name, path, target)
        if spec is not None:
            spec.loader = _Patching(spec.loader, AFTER_IMPORT[name])  # type: ignore[assignment]  # a loader by protocol
        return spec


class _Patching:
    """The module's own loader, and its patch once it has run."""

    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self._loader, self._patch = loader, patch

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:  # get_data, get_resource_reader, ...: the module's own loader's
        return getattr(self._loader, name)
