"""Which run backends are installed: the entry point group `cygnet.run_backends`, name -> a
RunBackend subclass. A site adds its own backend by installing a package that declares one:

    [project.entry-points."cygnet.run_backends"]
    pbs = "site_cygnet.pbs:PBSRunBackend"

Cygnet declares its four there too; they stand in for themselves when its distribution's
metadata is not visible (a process with the source folders on sys.path but no installed dist).
When two distributions declare one name, the first on the path wins.
"""

import functools
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from traitlets import TraitError
from traitlets.config import Config

from cygnet.core.errors import BadInput, Unavailable

from .base import RunBackend

GROUP = "cygnet.run_backends"
BUILT_IN = (
    EntryPoint("local", "cygnet.runs.backends.local:LocalRunBackend", GROUP),
    EntryPoint("slurm", "cygnet.runs.backends.slurm:SlurmRunBackend", GROUP),
    EntryPoint("htcondor", "cygnet.runs.backends.htcondor:HTCondorRunBackend", GROUP),
    EntryPoint("kubernetes", "cygnet.runs.backends.kubernetes:KubernetesRunBackend", GROUP),
)


@functools.cache
def _installed() -> tuple[EntryPoint, ...]:
    return tuple(entry_points(group=GROUP))  # read once: it scans every distribution's metadata


def declared(found: Iterable[EntryPoint] | None = None) -> dict[str, EntryPoint]:
    """name -> entry point of every backend: the built-in four first (a declared one of the same
    name in their place), then the others by name. `found`: the group's entry points (default:
    the installed ones), for tests and tools."""
    table: dict[str, EntryPoint] = {}
    for ep in _installed() if found is None else found:
        table.setdefault(ep.name, ep)
    ordered = {ep.name: table.pop(ep.name, ep) for ep in BUILT_IN}
    return {**ordered, **dict(sorted(table.items()))}


def names(found: Iterable[EntryPoint] | None = None) -> list[str]:
    """The installed backends' names, the built-in ones first."""
    return list(declared(found))


def backend_class(name: str, found: Iterable[EntryPoint] | None = None, option: str = "") -> type[RunBackend]:
    """The class of backend `name`. BadInput naming the installed ones when none has that name
    (`option`: the setting that named it, for the message); Unavailable when it cannot load."""
    table = declared(found)
    ep = table.get(name)
    if ep is None:
        installed = ", ".join(table)
        if option:
            raise BadInput(f"{option} is {name!r}, which no installed run backend provides (installed: {installed})")
        raise BadInput(f"unknown backend {name!r} (installed: {installed})")
    try:
        cls = ep.load()
    except Exception as e:  # noqa: BLE001 - a site's broken package is reported, not a crash
        raise Unavailable(f"the {name} run backend ({ep.value}) cannot be loaded: {type(e).__name__}: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, RunBackend)):
        raise Unavailable(f"the {name} run backend ({ep.value}) is not a RunBackend subclass")
    return cls


def make(
    name: str, config: Config | None = None, found: Iterable[EntryPoint] | None = None, option: str = ""
) -> RunBackend:
    """Backend `name` configured from `config` (its section, `c.SlurmRunBackend.*`) and checked:
    BadInput naming the option a site set wrong."""
    cls = backend_class(name, found, option)
    try:
        backend = cls(config=config if config is not None else Config())
    except TraitError as e:
        raise BadInput(f"the settings of the {name} run backend: {e}") from e
    backend.check()
    return backend
