"""`cygnet-singleuser`: JupyterHub's single-user server as Cygnet's hub starts it, more than a
second quicker to start (`lighter_imports`):
- without jsonschema's optional IRI checker, and without the Node.js process JupyterLab runs to read
  its own version (cygnet.core.imports);
- without the hub's database models (`jupyterhub.orm`, `jupyterhub.roles`: SQLAlchemy's ORM),
  which `jupyterhub.scopes` imports for the hub's own checks and a single-user server never
  uses: they are loaded lazily, on first use (the standard library's `importlib.util.LazyLoader`);
- without the hub's page handlers, which `jupyterhub.log` imports only to tell the hub's health
  checks apart in its access log: a stand-in names the one class it reads.
Together about 0.3 s of a session's start.
"""

import importlib.abc
import importlib.util
import sys
import types

from cygnet.core.imports import real_spec

LAZY = frozenset({"jupyterhub.orm", "jupyterhub.roles"})
HUB_PAGES = "jupyterhub.handlers.pages"


def main():
    lighter_imports()
    from jupyterhub.singleuser import main as singleuser

    sys.exit(singleuser())


def lighter_imports():
    """Call before anything imports jupyterhub; for the single-user server's process only."""
    from cygnet.core.imports import skip_slow_optional_imports

    skip_slow_optional_imports()
    if not any(isinstance(finder, _LoadOnFirstUse) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LoadOnFirstUse())
    if HUB_PAGES not in sys.modules:
        sys.modules[HUB_PAGES] = _hub_pages_stand_in()


class _LoadOnFirstUse(importlib.abc.MetaPathFinder):
    """Finds the LAZY modules as the other finders do, with a loader that runs them when one of
    their names is first read."""

    def find_spec(self, name, path, target=None):
        if name not in LAZY:
            return None
        spec = real_spec(self, name, path, target)
        if spec is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _hub_pages_stand_in():
    """`jupyterhub.handlers.pages` as `jupyterhub.log` reads it: the hub's health check is a
    handler class no single-user server has, so every `isinstance` against the stand-in is
    false, as against the real one."""
    pages = types.ModuleType(HUB_PAGES, "Stand-in for the hub's page handlers in a single-user server.")

    class HealthCheckHandler:
        """The hub's health check; never served by a single-user server."""

    pages.HealthCheckHandler = HealthCheckHandler  # type: ignore[attr-defined]
    pages.default_handlers = []  # type: ignore[attr-defined]
    return pages
