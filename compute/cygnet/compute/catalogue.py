"""The site's catalogue of compute clusters, configuration bundles and known options.

A site describes its clusters and bundles in one JSON or YAML file (`Cygnet.clusters`, which
may live on CVMFS); with none, each engine offers its default cluster (Spark's `local`, Dask's
`dask-local`). Every entry has a name and a kind; the engine that registered the kind checks the
rest (`cygnet.compute.kinds`). Both the server (REST) and the kernel (connect) read it, so this
module uses the standard library only (YAML needs PyYAML, which the server has; kernels get the
catalogue as JSON from the server).

    clusters:
      - {name: local, kind: local}
      - {name: prod, display_name: Production, kind: standalone, master: "spark://spark.example.org:7077"}
      - {name: shared, kind: connect, remote: "sc://connect.example.org:15002"}
      - {name: mine, kind: connect-managed}
      - {name: analytix, kind: yarn, auth: kerberos, token_service: "https://tokens.example.org/hadoop"}
      - {name: cloud, kind: k8s, master: "k8s://https://k8s.example.org:6443", namespace: spark}
      - {name: dask-local, kind: dask-local, max_workers: 8}
      - {name: gateway, kind: dask-gateway, address: "https://dask.example.org", auth: jupyterhub}
    bundles:
      - name: big-driver
        clusters: [local, prod]          # where it applies; absent: everywhere
        options:
          - {name: spark.driver.memory, value: 8g}
          - {name: spark.driver.extraJavaOptions, value: "-Dlog4j.debug", concatenate: " "}

The kinds and fields of each engine are in `cygnet.spark.kinds` and `cygnet.dask.kinds`.
"""

from __future__ import annotations  # kernel side: Python 3.8 reads the annotations unevaluated

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cygnet.core.errors import BadInput, NotFound

from . import kinds

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SOURCE = "the clusters catalogue"


@dataclass(frozen=True)
class Cluster:
    """What every engine's cluster has; engines subclass it with their own fields."""

    name: str
    kind: str
    display_name: str = ""
    ENGINE: ClassVar[str] = ""

    @property
    def engine(self):
        """Which engine serves the cluster ('spark', 'dask', ...)."""
        return self.ENGINE

    def to_dict(self):
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**fields, "display_name": self.display_name or self.name, "engine": self.engine}

    def to_spec(self):
        """The cluster as a catalogue file lists it (what the parser takes back): set fields only."""
        return {k: v for k, v in self.to_dict().items() if k != "engine" and v not in ("", {}, 0, None)}


@dataclass(frozen=True)
class OpaqueCluster(Cluster):
    """An entry of an engine this process does not have (a kernel given only some engines):
    listed under its engine's name, never connected to from here."""

    engine_name: str = ""
    spec: tuple = ()

    @property
    def engine(self):
        return self.engine_name

    def to_dict(self):
        return {**dict(self.spec), "display_name": self.display_name or self.name, "engine": self.engine}


@dataclass(frozen=True)
class BundleOption:
    name: str
    value: str
    concatenate: str | None = None  # a separator: append to an existing value instead of replacing it


@dataclass(frozen=True)
class Bundle:
    name: str
    display_name: str = ""
    description: str = ""
    clusters: tuple = ()  # empty: every cluster
    options: tuple = ()

    def applies_to(self, cluster):
        return not self.clusters or cluster in self.clusters

    def to_dict(self):
        return {
            "name": self.name,
            "display_name": self.display_name or self.name,
            "description": self.description,
            "clusters": list(self.clusters),
            "options": [{"name": o.name, "value": o.value, "concatenate": o.concatenate} for o in self.options],
        }


def _defaults(given=(), listed=False):
    """Each engine's default cluster where the catalogue needs it: all of them when it lists no
    clusters, else those of engines that are `always` offered and have none listed."""
    names = {c.name for c in given}
    engines_given = {c.engine for c in given}
    out = []
    for engine in kinds.engines().values():
        default = engine.default
        if default is None or default.name in names:
            continue
        if not listed or (engine.always and engine.name not in engines_given):
            out.append(default)
    return tuple(out)


@dataclass(frozen=True)
class Catalogue:
    clusters: tuple = ()
    bundles: tuple = ()
    options: tuple = ()  # extra known options from the site: ({name, category, description})

    def cluster(self, name, engine=None):
        """The cluster `name`; with `engine`, one of that engine's ('spark', 'dask', ...)."""
        for c in self.clusters:
            if c.name == name:
                if engine and c.engine != engine:
                    found = kinds.engines().get(c.engine)
                    title = found.title if found else c.engine
                    hint = f": use {found.connect_hint} for it" if found else ""
                    raise BadInput(f"{name!r} is a {title} cluster ({c.kind}){hint}")
                return c
        found = kinds.engines().get(engine or "")
        what = f"{found.title} cluster" if found else "cluster"
        raise NotFound(f"no {what} {name!r} here (clusters: {', '.join(self.names(engine)) or 'none'})")

    def names(self, engine=None):
        """The clusters' names, of one engine or of all."""
        return [c.name for c in self.clusters if not engine or c.engine == engine]

    def bundle(self, name):
        for b in self.bundles:
            if b.name == name:
                return b
        known = ", ".join(b.name for b in self.bundles) or "none"
        raise NotFound(f"no configuration bundle {name!r} (bundles: {known})")

    def bundles_for(self, cluster=None, engine=None):
        """The bundles that apply to `cluster` (checked to be one of `engine`'s), or all."""
        if cluster is not None:
            self.cluster(cluster, engine)
        return [b for b in self.bundles if cluster is None or b.applies_to(cluster)]

    def known_options(self):
        site = {o["name"]: o for o in self.options}
        own = [o for e in kinds.engines().values() for o in e.known_options]
        return [site.pop(o["name"], o) for o in own] + list(site.values())

    def to_dict(self):
        return {
            "clusters": [c.to_dict() for c in self.clusters],
            "bundles": [b.to_dict() for b in self.bundles],
            "options": list(self.options),
        }


def load_catalogue(path=None, text=None):
    """The catalogue from a JSON or YAML file (or its text); the engines' defaults if neither.
    Engines may add clusters their environment offers (the hub's Dask gateway)."""
    catalogue = _load(path, text)
    for engine in kinds.engines().values():
        augment = engine.extra.get("augment")
        if augment:
            catalogue = augment(catalogue)
    return catalogue


def with_clusters(catalogue, *added):
    return Catalogue(catalogue.clusters + tuple(added), catalogue.bundles, catalogue.options)


def _load(path, text):
    if path is None and text is None:
        return Catalogue(_defaults())
    source = str(path) if path else SOURCE
    if text is None:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise NotFound(f"the clusters catalogue {path} does not exist") from None
        except OSError as e:
            raise BadInput(f"cannot read the clusters catalogue {path}: {e}") from e
    return parse_catalogue(_parse(text, source), source)


def kernel_copy(path, data_dir):
    """A validated JSON copy of the catalogue at `path` under `data_dir`, for kernels (named by
    its content, so kernels started before a change keep theirs). Each entry keeps its engine's
    name, so a kernel without that engine still lists it."""
    import hashlib

    from cygnet.core.atomic import atomic_write

    catalogue = _load(path, None)
    clusters = [{**c.to_spec(), "engine": c.engine} for c in catalogue.clusters]
    text = json.dumps({**catalogue.to_dict(), "clusters": clusters}, sort_keys=True)
    target = Path(data_dir) / "compute" / f"catalogue-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not target.exists():
        atomic_write(target, text)
    return str(target)


def parse_catalogue(data, source=SOURCE):
    if not isinstance(data, dict) or set(data) - {"clusters", "bundles", "options"}:
        raise BadInput(f"{source}: expected a mapping with 'clusters', 'bundles' and 'options'")
    clusters = tuple(parse_cluster(c, source) for c in _list(data, "clusters", source))
    clusters += _defaults(clusters, listed="clusters" in data)
    bundles = tuple(_bundle(b, source) for b in _list(data, "bundles", source))
    options = tuple(_known_option(o, source) for o in _list(data, "options", source))
    for what, names in (("cluster", [c.name for c in clusters]), ("bundle", [b.name for b in bundles])):
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise BadInput(f"{source}: {what} name(s) used twice: {', '.join(sorted(dupes))}")
    return Catalogue(clusters, bundles, options)


def parse_cluster(c, source=SOURCE):
    """One catalogue entry, checked by the engine that registered its kind."""
    if not isinstance(c, dict):
        raise BadInput(f"{source}: each cluster is a mapping with a name and a kind")
    name = check_name(c.get("name"), "cluster", source)
    found, _ = kinds.kind(c.get("kind"))
    if found is not None:
        return found.parse({k: v for k, v in c.items() if k != "engine"}, name, source)
    if isinstance(c.get("engine"), str) and c["engine"] and c["engine"] not in kinds.engines():
        # A kernel's copy names an engine this kernel was not given: kept, so it is listed.
        spec = tuple(sorted((k, v) for k, v in c.items() if k != "engine" and not isinstance(v, (dict, list))))
        return OpaqueCluster(name, str(c.get("kind")), str(c.get("display_name") or ""), c["engine"], spec)
    known = ", ".join(kinds.kind_names()) or "none"
    raise BadInput(f"{source}: cluster {name}: kind must be one of {known}, not {c.get('kind')!r}")


def check_fields(c, name, source, allowed, engine_title):
    """BadInput naming the fields of an entry that its kind does not have."""
    unknown = set(c) - set(allowed) - {"name", "kind", "display_name"}
    if unknown:
        others = {f for e in kinds.engines().values() for k in e.kinds for f in k.fields}
        foreign = sorted(unknown & others)
        if foreign:
            verb = "is not a field" if len(foreign) == 1 else "are not fields"
            raise BadInput(f"{source}: cluster {name}: {', '.join(foreign)} {verb} of {engine_title} clusters")
        raise BadInput(f"{source}: cluster {name}: unknown field(s) {', '.join(sorted(unknown))}")


def check_name(value, what, source):
    if not isinstance(value, str) or not NAME.match(value):
        raise BadInput(f"{source}: a {what} name is letters, digits, '.', '_' or '-', not {value!r}")
    return value


def _parse(text, source):
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"{source} is not valid JSON: {e}") from e
    try:
        import yaml
    except ImportError:
        raise BadInput(f"{source} looks like YAML, and PyYAML is not installed here: use JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BadInput(f"{source} is not valid YAML: {e}") from e


def _list(data, key, source):
    value = data.get(key) or []
    if not isinstance(value, list):
        raise BadInput(f"{source}: '{key}' must be a list")
    return value


def option_name(value, where):
    """An option name some engine's bundles may set (spark.*, hadoop.*, ...)."""
    patterns = [e.option_pattern for e in kinds.engines().values() if e.option_pattern]
    if not isinstance(value, str) or not any(re.match(p, value) for p in patterns):
        raise BadInput(f"{where}: {value!r} is not an option name a bundle may set (such as spark.*)")
    return value


def _bundle(b, source):
    if not isinstance(b, dict):
        raise BadInput(f"{source}: each bundle is a mapping with a name and options")
    name = check_name(b.get("name"), "bundle", source)
    clusters = b.get("clusters") or []
    if not isinstance(clusters, list) or not all(isinstance(x, str) for x in clusters):
        raise BadInput(f"{source}: bundle {name}: 'clusters' is a list of cluster names")
    options = []
    for o in b.get("options") or []:
        if not isinstance(o, dict) or "name" not in o or "value" not in o:
            raise BadInput(f"{source}: bundle {name}: each option has a name and a value")
        sep = o.get("concatenate")
        if sep is not None and not isinstance(sep, str):
            raise BadInput(f"{source}: bundle {name}: 'concatenate' is a separator string such as ',' or ' '")
        options.append(BundleOption(option_name(o["name"], f"{source}: bundle {name}"), str(o["value"]), sep))
    return Bundle(
        name=name,
        display_name=str(b.get("display_name") or ""),
        description=str(b.get("description") or ""),
        clusters=tuple(clusters),
        options=tuple(options),
    )


def _known_option(o, source):
    if not isinstance(o, dict) or "name" not in o:
        raise BadInput(f"{source}: each known option is a mapping with a name")
    return {
        "name": option_name(o["name"], source),
        "category": str(o.get("category") or "Site"),
        "description": str(o.get("description") or ""),
    }
