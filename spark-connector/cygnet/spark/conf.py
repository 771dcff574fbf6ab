"""The effective Spark configuration of a session: cluster settings, then bundles, then the
user's options, with `concatenate` and `{ENV_VAR}` placeholders, plus what Cygnet adds so
executors use the kernel's view. Pure functions: the kernel side calls them, tests check them."""

import re

from cygnet.core import contract
from cygnet.core.errors import BadInput

from .kinds import OPTION

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PORT_OPTIONS = ("spark.driver.port", "spark.driver.blockManager.port", "spark.ui.port")


def parse_option(text):
    """'key=value' -> (key, value); BadInput naming the problem otherwise."""
    if not isinstance(text, str) or "=" not in text:
        raise BadInput(f"a Spark option is key=value, not {text!r}")
    key, value = text.split("=", 1)
    key = key.strip()
    if not OPTION.match(key):
        raise BadInput(f"{key!r} is not a Spark option name (spark.* or hadoop.*)")
    return key, value.strip()


def fill_placeholders(value, env):
    """'{HOME}/x' -> '/home/u/x' from `env`; '{{' and '}}' stand for literal braces."""

    def substitute(match):
        name = match.group(1)
        if name not in env:
            raise BadInput(f"the Spark option value {value!r} uses {{{name}}}, and ${name} is not set in the kernel")
        return env[name]

    parts = value.split("{{")
    return "{".join(PLACEHOLDER.sub(substitute, p).replace("}}", "}") for p in parts)


def effective_conf(catalogue, cluster_name, bundles=(), options=None, env=None):
    """(cluster, conf dict) for connecting to `cluster_name` with `bundles` and `options`
    (a dict, or a list of 'key=value' strings), placeholders filled from `env`."""
    env = env or {}
    cluster = catalogue.cluster(cluster_name, engine="spark")
    conf = dict(cluster.conf)
    for name in bundles or ():
        bundle = catalogue.bundle(name)
        if not bundle.applies_to(cluster.name):
            raise BadInput(
                f"bundle {name!r} is not for cluster {cluster.name!r} (it is for {', '.join(bundle.clusters)})"
            )
        for option in bundle.options:
            if option.concatenate is not None and conf.get(option.name):
                conf[option.name] = conf[option.name] + option.concatenate + option.value
            else:
                conf[option.name] = option.value
    if isinstance(options, dict):
        items = [(parse_option(f"{k}={v}")) for k, v in options.items()]
    else:
        items = [parse_option(o) for o in options or ()]
    conf.update(items)
    return cluster, {k: fill_placeholders(v, env) for k, v in conf.items()}


def cluster_conf(cluster):
    """What a cluster's kind adds: where the driver connects, and k8s's namespace and image."""
    conf = {}
    if cluster.kind == "k8s":
        if cluster.namespace:
            conf["spark.kubernetes.namespace"] = cluster.namespace
        if cluster.image:
            conf["spark.kubernetes.container.image"] = cluster.image
        conf["spark.submit.deployMode"] = "client"
    if cluster.kind == "yarn":
        conf["spark.submit.deployMode"] = "client"
    return conf


def view_conf(python, view_env, ports=None, host="127.0.0.1"):
    """What makes executors run the kernel's view: its Python and its environment. `ports`
    are the driver's ports from the allocator; `host` the address executors reach it on."""
    conf = {"spark.pyspark.python": python, "spark.pyspark.driver.python": python}
    for name in ("PYTHONPATH", "LD_LIBRARY_PATH", "PATH"):
        if view_env.get(name):
            conf[f"spark.executorEnv.{name}"] = view_env[name]
    if contract.VIEW.get(view_env):
        conf[f"spark.executorEnv.{contract.VIEW.name}"] = contract.VIEW.get(view_env)
    if ports:
        conf.update(zip(PORT_OPTIONS, map(str, ports)))  # noqa: B905 - kernel side: views may predate 3.10
        conf["spark.driver.host"] = host
    return conf
