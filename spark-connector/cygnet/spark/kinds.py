"""Spark's kinds of cluster in the site's catalogue (`cygnet.compute.catalogue`): `local`,
`standalone`, `connect` (a remote Spark Connect server), `connect-managed` (one Cygnet starts),
`yarn` and `k8s`, their fields and checks, and the options users reach for most.
Kernel side too: standard library only.

    - {name: prod, kind: standalone, master: "spark://spark.example.org:7077", ui: "http://spark.example.org:8080"}
    - {name: secured, kind: connect, remote: "sc://localhost:15003", token_file: "~/.spark-connect-token"}
    - {name: analytix, kind: yarn, conf: {spark.yarn.queue: default}, auth: kerberos,
       token_service: "https://tokens.example.org/hadoop"}
    - {name: cloud, kind: k8s, master: "k8s://https://k8s.example.org:6443", namespace: spark, image: "..."}
"""

from __future__ import annotations  # kernel side: Python 3.8 reads the annotations unevaluated

import re
from dataclasses import dataclass, field

from cygnet.compute.catalogue import Cluster, check_fields
from cygnet.compute.kinds import ClusterKind, Engine
from cygnet.core.errors import BadInput

OPTION = re.compile(r"^(spark|hadoop)\.[A-Za-z0-9_.\-]+$")
FIELDS = ("master", "remote", "namespace", "image", "conf", "auth", "token_service", "ui", "token_file", "token_env")


@dataclass(frozen=True)
class SparkCluster(Cluster):
    master: str = ""  # local[*], spark://..., yarn, k8s://...
    remote: str = ""  # sc://host:port for connect
    namespace: str = ""  # k8s
    image: str = ""  # k8s
    conf: dict = field(default_factory=dict)
    auth: str = ""  # "kerberos": connect needs the user's ticket (checked first, not deep in Java)
    token_service: str = ""  # with kerberos: an http(s) service handing out Hadoop delegation tokens
    ui: str = ""  # standalone: the master's web UI (http://host:8080), to check resources before asking
    token_file: str = ""  # connect: a file holding the server's authentication token (~ is the user's home)
    token_env: str = ""  # connect: or the environment variable holding it
    ENGINE = "spark"

    @property
    def is_connect(self):
        """A Spark Connect cluster (a remote server, or one Cygnet starts): no SparkContext."""
        return self.kind in ("connect", "connect-managed")


def _parse(c, name, source):
    kind = c["kind"]
    check_fields(c, name, source, FIELDS, "Spark")
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
    return SparkCluster(
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


def _conf(conf, where):
    if not isinstance(conf, dict):
        raise BadInput(f"{where}: conf is a mapping of Spark options to values")
    for k in conf:
        if not isinstance(k, str) or not OPTION.match(k):
            raise BadInput(f"{where}: {k!r} is not a Spark option name (spark.* or hadoop.*)")
    return {k: str(v) for k, v in conf.items()}


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

KINDS = ("local", "standalone", "connect", "connect-managed", "yarn", "k8s")
DEFAULT_LOCAL = SparkCluster(name="local", kind="local", display_name="Local (this machine)", master="local[*]")

ENGINE = Engine(
    name="spark",
    title="Spark",
    connect_hint="%spark connect",
    kinds=tuple(ClusterKind(k, _parse, FIELDS) for k in KINDS),
    default=DEFAULT_LOCAL,
    always=False,  # a site that lists its clusters and no Spark one offers no Spark
    option_pattern=OPTION.pattern,
    known_options=KNOWN_OPTIONS,
)
