"""The site's Spark catalogue: clusters, configuration bundles and the known options.

A site describes its clusters and bundles in one JSON or YAML file (`Cygnet.spark_clusters`,
which may live on CVMFS); with none, the catalogue holds the cluster `local`. Both the server
(REST) and the kernel (connect) read it, so this module uses the standard library only (YAML
needs PyYAML, which the server has; kernels get the catalogue as JSON from the server).

    clusters:
      - {name: local, kind: local}
      - {name: prod, display_name: Production, kind: standalone, master: "spark://spark.example.org:7077",
         ui: "http://spark.example.org:8080"}
      - {name: shared, kind: connect, remote: "sc://connect.example.org:15002"}
      - {name: secured, kind: connect, remote: "sc://localhost:15003", token_file: "~/.spark-connect-token"}
      - {name: mine, kind: connect-managed}
      - {name: analytix, kind: yarn, conf: {spark.yarn.queue: default},
         auth: kerberos, token_service: "https://tokens.example.org/hadoop"}
      - {name: cloud, kind: k8s, master: "k8s://https://k8s.example.org:6443", namespace: spark,
         image: "registry.example.org/spark:4.0"}
      # Dask (cygnet.dask, %dask): a LocalCluster beside the kernel, or a site's dask-gateway.
      - {name: dask-local, kind: dask-local, max_workers: 8}
      - {name: gateway, kind: dask-gateway, address: "https://dask.example.org", auth: jupyterhub}
    bundles:
      - name: big-driver
        clusters: [local, prod]          # where it applies; absent: everywhere
        options:
          - {name: spark.driver.memory, value: 8g}
          - {name: spark.driver.extraJavaOptions, value: "-Dlog4j.debug", concatenate: " "}
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cygnet.core.errors import BadInput, NotFound

SPARK_KINDS = ("local", "standalone", "connect", "connect-managed", "yarn", "k8s")
DASK_KINDS = ("dask-local", "dask-gateway")
KINDS = SPARK_KINDS + DASK_KINDS
GATEWAY_AUTHS = ("", "jupyterhub", "kerberos", "basic")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
OPTION = re.compile(r"^(spark|hadoop)\.[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Cluster:
    name: str
    kind: str
    display_name: str = ""
    master: str = ""  # local[*], spark://..., yarn, k8s://...
    remote: str = ""  # sc://host:port for connect
    namespace: str = ""  # k8s
    image: str = ""  # k8s
    conf: dict = field(default_factory=dict)
    auth: str = ""  # "kerberos": connect needs the user's ticket (checked first, not deep in Java)
    token_service: str = ""  # with kerberos: an http(s) service handing out Hadoop delegation tokens
    ui: str = ""  # standalone: the master's web UI (http://host:8080), to check resources before asking
    address: str = ""  # dask-gateway: the gateway's http(s) address
    proxy_address: str = ""  # dask-gateway: its scheduler proxy, when not on the same address
    max_workers: int = 0  # Dask: most workers a user may ask for (0: the session's cores, or 100 on a gateway)
    token_file: str = ""  # connect: a file holding the server's authentication token (~ is the user's home)
    token_env: str = ""  # connect: or the environment variable holding it

    @property
    def engine(self):
        """Which engine the cluster serves: 'spark' or 'dask'."""
        return "dask" if self.kind in DASK_KINDS else "spark"

    @property
    def is_connect(self):
        """A Spark Connect cluster (a remote server, or one Cygnet starts): no SparkContext."""
        return self.kind in ("connect", "connect-managed")

    def to_dict(self):
        return {
            "name": self.name,
            "display_name": self.display_name or self.name,
            "kind": self.kind,
            "master": self.master,
            "remote": self.remote,
            "namespace": self.namespace,
            "image": self.image,
            "conf": dict(self.conf),
            "auth": self.auth,
            "token_service": self.token_service,
            "ui": self.ui,
            "engine": self.engine,
            "address": self.address,
            "proxy_address": self.proxy_address,
            "max_workers": self.max_workers,
            "token_file": self.token_file,
            "token_env": self.token_env,
        }

    def to_spec(self):
        """The cluster as a catalogue file lists it (what the parser takes back): set fields only."""
        return {k: v for k, v in self.to_dict().items() if k != "engine" and v not in ("", {}, 0, None)}


@dataclass(frozen=True)
class BundleOption:
    name: str
    value: str
    concatenate: str = None  # a separator: append to an existing value instead of replacing it


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


DEFAULT_LOCAL = Cluster(name="local", kind="local", display_name="Local (this machine)", master="local[*]")
# Dask needs no site set-up either: a catalogue that names no Dask cluster gets this one.
DEFAULT_DASK_LOCAL = Cluster(name="dask-local", kind="dask-local", display_name="Dask (this machine)")


@dataclass(frozen=True)
class Catalogue:
    clusters: tuple = (DEFAULT_LOCAL, DEFAULT_DASK_LOCAL)
    bundles: tuple = ()
    options: tuple = ()  # extra known options from the site: ({name, category, description})

    def cluster(self, name, engine=None):
        """The cluster `name`; with `engine`, one of that engine's ('spark' or 'dask')."""
        for c in self.clusters:
            if c.name == name:
                if engine and c.engine != engine:
                    use = "%dask connect (cygnet.dask.connect)" if c.engine == "dask" else "%spark connect"
                    raise BadInput(f"{name!r} is a {c.engine.capitalize()} cluster ({c.kind}): use {use} for it")
                return c
        what = {"spark": "Spark cluster", "dask": "Dask cluster"}.get(engine, "cluster")
        raise NotFound(f"no {what} {name!r} here (clusters: {', '.join(self.names(engine)) or 'none'})")

    def names(self, engine=None):
        """The clusters' names, of one engine ('spark' or 'dask') or of all."""
        return [c.name for c in self.clusters if not engine or c.engine == engine]

    def bundle(self, name):
        for b in self.bundles:
            if b.name == name:
                return b
        raise NotFound(
            f"no Spark configuration bundle {name!r} (bundles: {', '.join(b.name for b in self.bundles) or 'none'})"
        )

    def bundles_for(self, cluster=None):
        if cluster is not None:
            self.cluster(cluster)
        return [b for b in self.bundles if cluster is None or b.applies_to(cluster)]

    def known_options(self):
        site = {o["name"]: o for o in self.options}
        return [site.pop(o["name"], o) for o in KNOWN_OPTIONS] + list(site.values())

    def to_dict(self):
        return {
            "clusters": [c.to_dict() for c in self.clusters],
            "bundles": [b.to_dict() for b in self.bundles],
            "options": list(self.options),
        }


def load_catalogue(path=None, text=None):
    """The catalogue from a JSON or YAML file (or its text); the embedded one if neither. Under
    a hub that runs a Dask gateway ($CYGNET_DASK_GATEWAY_URL), it offers that gateway too."""
    return with_hub_gateway(_load(path, text))


def with_hub_gateway(catalogue):
    import os

    url = os.environ.get("CYGNET_DASK_GATEWAY_URL")
    if not url or "dask-gateway" in catalogue.names():
        return catalogue
    gateway = _dask_cluster(
        {"address": url, "proxy_address": os.environ.get("CYGNET_DASK_GATEWAY_PROXY", ""), "auth": "jupyterhub"},
        "dask-gateway",
        "dask-gateway",
        "$CYGNET_DASK_GATEWAY_URL",
    )
    gateway = Cluster(**{**gateway.__dict__, "display_name": "Dask Gateway (the hub's)"})
    return Catalogue(catalogue.clusters + (gateway,), catalogue.bundles, catalogue.options)


def _load(path, text):
    if path is None and text is None:
        return Catalogue()
    source = str(path) if path else "the Spark catalogue"
    if text is None:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise NotFound(f"the Spark catalogue {path} does not exist") from None
        except OSError as e:
            raise BadInput(f"cannot read the Spark catalogue {path}: {e}") from e
    data = _parse(text, source)
    return parse_catalogue(data, source)


def kernel_copy(path, data_dir):
    """A validated JSON copy of the catalogue at `path` under `data_dir`, for kernels (named by
    its content, so kernels started before a change keep theirs)."""
    import hashlib

    from cygnet.core.atomic import atomic_write

    catalogue = load_catalogue(path)
    text = json.dumps({**catalogue.to_dict(), "clusters": [c.to_spec() for c in catalogue.clusters]}, sort_keys=True)
    target = Path(data_dir) / "spark" / f"catalogue-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not target.exists():
        atomic_write(target, text)
    return str(target)


def parse_catalogue(data, source="the Spark catalogue"):
    if not isinstance(data, dict) or set(data) - {"clusters", "bundles", "options"}:
        raise BadInput(f"{source}: expected a mapping with 'clusters', 'bundles' and 'options'")
    clusters = (
        tuple(_cluster(c, source) for c in _list(data, "clusters", source)) if "clusters" in data else (DEFAULT_LOCAL,)
    )
    if not any(c.engine == "dask" for c in clusters) and "dask-local" not in [c.name for c in clusters]:
        clusters += (DEFAULT_DASK_LOCAL,)
    bundles = tuple(_bundle(b, source) for b in _list(data, "bundles", source))
    options = tuple(_known_option(o, source) for o in _list(data, "options", source))
    for kind, names in (("cluster", [c.name for c in clusters]), ("bundle", [b.name for b in bundles])):
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise BadInput(f"{source}: {kind} name(s) used twice: {', '.join(sorted(dupes))}")
    return Catalogue(clusters, bundles, options)


def _parse(text, source):
    stripped = text.lstrip()
    if stripped.startswith("{"):
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


def _cluster(c, source):
    if not isinstance(c, dict):
        raise BadInput(f"{source}: each cluster is a mapping with a name and a kind")
    fields = {"name", "kind", "display_name", "master", "remote", "namespace", "image", "conf", "auth", "token_service"}
    fields |= {"ui", "address", "proxy_address", "max_workers", "token_file", "token_env"}
    unknown = set(c) - fields
    name = _name(c.get("name"), "cluster", source)
    if unknown:
        raise BadInput(f"{source}: cluster {name}: unknown field(s) {', '.join(sorted(unknown))}")
    kind = c.get("kind")
    if kind not in KINDS:
        raise BadInput(f"{source}: cluster {name}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    master = str(c.get("master") or "")
    remote = str(c.get("remote") or "")
    if kind == "local":
        master = master or "local[*]"
        if not re.match(r"^local(\[(\*|\d+)(,\d+)?\])?$", master):
            raise BadInput(f"{source}: cluster {name}: a local master is local, local[N] or local[*], not {master!r}")
    elif kind == "standalone" and not re.match(r"^spark://[^/\s]+:\d+(,[^/\s]+:\d+)*$", master):
        raise BadInput(f"{source}: cluster {name}: a standalone master is spark://host:port, not {master!r}")
    elif kind == "connect" and not re.match(r"^sc://[^/\s:]+(:\d+)?(/.*)?$", remote):
        raise BadInput(f"{source}: cluster {name}: a connect cluster needs remote: sc://host:port, not {remote!r}")
    elif kind == "yarn":
        master = master or "yarn"
    elif kind == "k8s" and not master.startswith("k8s://"):
        raise BadInput(f"{source}: cluster {name}: a k8s cluster needs master: k8s://https://host:port")
    if kind in DASK_KINDS:
        return _dask_cluster(c, name, kind, source)
    if set(c) & {"address", "proxy_address", "max_workers"}:
        raise BadInput(f"{source}: cluster {name}: address, proxy_address and max_workers are for Dask clusters")
    auth = str(c.get("auth") or "")
    token_service = str(c.get("token_service") or "")
    if auth not in ("", "kerberos"):
        raise BadInput(f"{source}: cluster {name}: auth is kerberos or absent, not {auth!r}")
    if token_service and (auth != "kerberos" or not re.match(r"^https?://[^/\s@]+(/\S*)?$", token_service)):
        raise BadInput(f"{source}: cluster {name}: a token_service is an http(s) URL, with auth: kerberos")
    token_file, token_env = str(c.get("token_file") or ""), str(c.get("token_env") or "")
    if (token_file or token_env) and kind != "connect":
        raise BadInput(f"{source}: cluster {name}: token_file and token_env are for connect clusters")
    if token_env and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", token_env):
        raise BadInput(f"{source}: cluster {name}: token_env is an environment variable's name, not {token_env!r}")
    ui = str(c.get("ui") or "")
    if ui and (kind != "standalone" or not re.match(r"^https?://[^/\s@]+/?$", ui)):
        raise BadInput(f"{source}: cluster {name}: ui is a standalone master's web UI, http(s)://host:port")
    return Cluster(
        name=name,
        kind=kind,
        display_name=str(c.get("display_name") or ""),
        master=master,
        remote=remote,
        namespace=str(c.get("namespace") or ""),
        image=str(c.get("image") or ""),
        conf=_conf(c.get("conf") or {}, f"{source}: cluster {name}"),
        auth=auth,
        token_service=token_service,
        ui=ui.rstrip("/"),
        token_file=token_file,
        token_env=token_env,
    )


def _dask_cluster(c, name, kind, source):
    spark_only = set(c) & {"master", "remote", "namespace", "image", "conf", "token_service", "ui", "token_file"}
    spark_only |= set(c) & {"token_env"}
    if spark_only:
        raise BadInput(f"{source}: cluster {name}: {', '.join(sorted(spark_only))} are Spark fields, not Dask's")
    address, proxy = str(c.get("address") or ""), str(c.get("proxy_address") or "")
    auth = str(c.get("auth") or "")
    if kind == "dask-gateway":
        if not re.match(r"^https?://[^/\s@]+(/\S*)?$", address):
            raise BadInput(f"{source}: cluster {name}: a dask-gateway cluster needs address: http(s)://host:port")
        if proxy and not re.match(r"^(gateway|tls|tcp)://[^/\s@]+:\d+$", proxy):
            raise BadInput(f"{source}: cluster {name}: proxy_address is gateway://host:port")
        if auth not in GATEWAY_AUTHS:
            raise BadInput(f"{source}: cluster {name}: auth is one of {', '.join(filter(None, GATEWAY_AUTHS))}")
    elif address or proxy or auth:
        raise BadInput(f"{source}: cluster {name}: a dask-local cluster has no address or auth")
    max_workers = c.get("max_workers") or 0
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or not 0 <= max_workers <= 100_000:
        raise BadInput(f"{source}: cluster {name}: max_workers is a whole number of workers")
    return Cluster(
        name=name,
        kind=kind,
        display_name=str(c.get("display_name") or ""),
        address=address.rstrip("/"),
        proxy_address=proxy,
        auth=auth,
        max_workers=max_workers,
    )


def _bundle(b, source):
    if not isinstance(b, dict):
        raise BadInput(f"{source}: each bundle is a mapping with a name and options")
    name = _name(b.get("name"), "bundle", source)
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
        options.append(BundleOption(_option_name(o["name"], f"{source}: bundle {name}"), str(o["value"]), sep))
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
        "name": _option_name(o["name"], source),
        "category": str(o.get("category") or "Site"),
        "description": str(o.get("description") or ""),
    }


def _name(value, what, source):
    if not isinstance(value, str) or not NAME.match(value):
        raise BadInput(f"{source}: a {what} name is letters, digits, '.', '_' or '-', not {value!r}")
    return value


def _option_name(value, where):
    if not isinstance(value, str) or not OPTION.match(value):
        raise BadInput(f"{where}: {value!r} is not a Spark option name (spark.* or hadoop.*)")
    return value


def _conf(conf, where):
    if not isinstance(conf, dict):
        raise BadInput(f"{where}: conf is a mapping of Spark options to values")
    return {_option_name(k, where): str(v) for k, v in conf.items()}


def _o(name, category, description):
    return {"name": name, "category": category, "description": description}


# Options users reach for most, for autocompletion; a site adds its own under `options`.
KNOWN_OPTIONS = (
    _o("spark.app.name", "Application", "Name of the application, shown in the Spark UI"),
    _o("spark.driver.memory", "Driver", "Memory of the driver process, e.g. 4g"),
    _o("spark.driver.cores", "Driver", "Cores of the driver process (cluster mode)"),
    _o("spark.driver.maxResultSize", "Driver", "Largest total result a collect() may bring back, e.g. 2g"),
    _o("spark.driver.extraJavaOptions", "Driver", "Extra JVM options of the driver"),
    _o("spark.driver.extraClassPath", "Driver", "Extra class path entries of the driver"),
    _o("spark.executor.memory", "Executor", "Memory per executor, e.g. 4g"),
    _o("spark.executor.cores", "Executor", "Cores per executor"),
    _o("spark.executor.instances", "Executor", "Number of executors (static allocation)"),
    _o("spark.executor.memoryOverhead", "Executor", "Off-heap memory per executor, e.g. 1g"),
    _o("spark.executor.extraJavaOptions", "Executor", "Extra JVM options of executors"),
    _o("spark.executorEnv.PYTHONPATH", "Executor", "PYTHONPATH of executor Python workers"),
    _o("spark.cores.max", "Executor", "Most cores the application takes on a standalone cluster"),
    _o("spark.dynamicAllocation.enabled", "Dynamic allocation", "Grow and shrink executors with the load"),
    _o("spark.dynamicAllocation.minExecutors", "Dynamic allocation", "Fewest executors"),
    _o("spark.dynamicAllocation.maxExecutors", "Dynamic allocation", "Most executors"),
    _o("spark.sql.shuffle.partitions", "SQL", "Partitions after a shuffle (joins, aggregations)"),
    _o("spark.sql.adaptive.enabled", "SQL", "Adaptive query execution"),
    _o("spark.sql.execution.arrow.pyspark.enabled", "SQL", "Arrow for toPandas() and createDataFrame(pandas)"),
    _o("spark.sql.session.timeZone", "SQL", "Time zone of the session"),
    _o("spark.sql.files.maxPartitionBytes", "SQL", "Largest partition when reading files"),
    _o("spark.default.parallelism", "Execution", "Default number of partitions of RDDs"),
    _o("spark.task.cpus", "Execution", "Cores per task"),
    _o("spark.memory.fraction", "Memory", "Share of heap for execution and storage"),
    _o("spark.serializer", "Execution", "Serializer class, e.g. org.apache.spark.serializer.KryoSerializer"),
    _o("spark.jars", "Dependencies", "Comma-separated jars for the driver and executors"),
    _o("spark.jars.packages", "Dependencies", "Comma-separated Maven coordinates to fetch"),
    _o("spark.files", "Dependencies", "Comma-separated files shipped to executors"),
    _o("spark.submit.pyFiles", "Dependencies", "Comma-separated .py, .zip or .egg files for executors"),
    _o("spark.pyspark.python", "Python", "Python of executor workers (Cygnet sets the view's)"),
    _o("spark.eventLog.enabled", "Monitoring", "Write an event log for the history server"),
    _o("spark.eventLog.dir", "Monitoring", "Where event logs go"),
    _o("spark.ui.showConsoleProgress", "Monitoring", "Progress bars on the console"),
    _o("spark.yarn.queue", "YARN", "The YARN queue"),
    _o("spark.yarn.maxAppAttempts", "YARN", "Attempts of the application master"),
    _o("spark.kubernetes.namespace", "Kubernetes", "Namespace of executor pods"),
    _o("spark.kubernetes.container.image", "Kubernetes", "Image of executor pods"),
    _o("spark.kubernetes.executor.request.cores", "Kubernetes", "CPU request of executor pods"),
    _o("spark.authenticate", "Security", "Authenticate Spark's internal connections"),
    _o("spark.network.timeout", "Network", "Default timeout of network interactions, e.g. 120s"),
    _o("hadoop.security.authentication", "Hadoop", "simple or kerberos"),
)
