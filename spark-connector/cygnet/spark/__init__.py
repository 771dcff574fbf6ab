"""Spark from any Cygnet kernel: `connect()` returns a SparkSession on one of the site's
clusters (local, standalone, Spark Connect, YARN, Kubernetes) and binds `spark` and `sc` in the
notebook. Kernel side: `session`, `kernel_extension` (`%spark`, the `cygnet.spark` comm);
server side: `catalogue` (clusters, bundles, options), `launch` and `managed` (Spark processes
Cygnet starts itself), `cli` (`cygnet spark`). Imports nothing heavy here.
"""

# Kernel-side packages this one needs on a kernel's path (cygnet.kernels.isolation).
KERNEL_REQUIRES = ("cygnet.core", "cygnet.compute")


def _user_ns():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return ip.user_ns if ip is not None else None


def connect(cluster=None, bundles=(), conf=None, app_name=None):
    """A SparkSession on `cluster` (default: the session's cluster, chosen when it started, else
    local) with the named configuration `bundles` and extra `conf` (a dict); also bound as
    `spark` (and `sc`) in the notebook."""
    from . import session

    return session.connect(cluster, bundles, conf, app_name, namespace=_user_ns())


def disconnect():
    """Stop this kernel's Spark session and free its driver ports."""
    from . import session

    session.disconnect(_user_ns())


def status():
    """The session's state, cluster, Spark UI URL, effective configuration and last error."""
    from . import session

    return session.status()
