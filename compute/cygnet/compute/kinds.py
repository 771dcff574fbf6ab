"""The registry of engines and cluster kinds. Each engine describes itself (an `Engine`) and the
kinds of cluster it serves (`ClusterKind`, with the function that checks a catalogue entry of
that kind); the catalogue knows no kind of its own.

Engines are found through the entry point group `cygnet.cluster_kinds` (each entry names an
`Engine`), and Cygnet's own engines also by import, since a kernel's path holds the source
folders without the distribution's metadata. An engine that is not importable here (a site left
`cygnet.spark` out of the kernel's packages) is simply absent.
"""

from __future__ import annotations  # kernel side: Python 3.8 reads the annotations unevaluated

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GROUP = "cygnet.cluster_kinds"
# Cygnet's own engines, found by import where no entry points are visible (kernels).
BUILT_IN = ("cygnet.spark.kinds:ENGINE", "cygnet.dask.kinds:ENGINE")


@dataclass(frozen=True)
class ClusterKind:
    name: str  # as a catalogue entry's `kind` says it: "local", "dask-gateway"
    parse: Callable[[dict, str, str], Any]  # (entry, checked name, source) -> a Cluster; BadInput if wrong
    fields: tuple = ()  # the entry's own fields, besides name, kind and display_name


@dataclass(frozen=True)
class Engine:
    name: str  # "spark", "dask": what a cluster's `engine` says
    title: str  # "Spark", for messages
    connect_hint: str  # how a user connects to one of its clusters, for messages
    kinds: tuple = ()  # ClusterKind, ...
    # Offered when a catalogue names none of the engine's clusters (`always`), or only when the
    # catalogue names no clusters at all.
    default: Any = None
    always: bool = False
    option_pattern: str = ""  # a regular expression for option names its bundles may set
    known_options: tuple = ()  # ({name, category, description}, ...) for autocompletion
    extra: dict = field(default_factory=dict)


_engines: dict | None = None


def engines() -> dict:
    """{engine name: Engine}, loaded once."""
    global _engines
    if _engines is None:
        found: dict = {}
        for engine in _built_in() + _from_entry_points():  # Cygnet's own first, in a fixed order
            found.setdefault(engine.name, engine)
        _engines = found
    return _engines


def kind(name: str):
    """The ClusterKind `name` and its Engine, or (None, None)."""
    for engine in engines().values():
        for k in engine.kinds:
            if k.name == name:
                return k, engine
    return None, None


def kind_names() -> list:
    return [k.name for e in engines().values() for k in e.kinds]


def engine_of_kind(name: str) -> str:
    _, engine = kind(name)
    return engine.name if engine else ""


def register(engine: Engine) -> None:
    """Add an engine in this process (tests, and sites that do it from code)."""
    engines()[engine.name] = engine


def _from_entry_points() -> list:
    try:
        from importlib.metadata import entry_points
    except ImportError:  # pragma: no cover - Python < 3.8
        return []
    try:
        found = entry_points(group=GROUP)
    except TypeError:  # Python 3.8/3.9: a dict of groups
        found = entry_points().get(GROUP, ())  # type: ignore[attr-defined]
    engines = []
    for entry in found:
        try:
            engines.append(entry.load())
        except ImportError:
            continue  # an engine whose package this process does not have
    return engines


def _built_in() -> list:
    engines = []
    for target in BUILT_IN:
        module, _, attribute = target.partition(":")
        try:
            engines.append(getattr(importlib.import_module(module), attribute))
        except ImportError:
            continue
    return engines
