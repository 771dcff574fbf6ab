"""Kernel side: the kernel's one Dask cluster and its client, on this machine (a LocalCluster
whose workers are children of the kernel, so they run in its view and die with it) or on a
site's dask-gateway (whose clusters Cygnet records, so the server stops them when the kernel
dies; see `records`)."""

import os
import threading

from cygnet.core import contract
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable

from . import records

GATEWAY_TIMEOUT = 10  # seconds for a gateway to answer its health check
DEFAULT_GATEWAY_MAX_WORKERS = 100


class DaskState:
    """What the kernel's Dask cluster is: disconnected, connecting, connected or error."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self, error=None):
        self.state = "error" if error else "disconnected"
        self.error = error
        self.cluster_def = self.cluster = self.client = self.lease = self.record = None
        self.usage = None  # the cluster's record for the server's metrics (cygnet.compute.usage)
        self.adapt = None  # (minimum, maximum) while adaptive
        self.requested = 0  # workers asked for by the last scale

    def to_dict(self):
        data = {
            "engine": "dask",
            "state": self.state,
            "error": self.error,
            "cluster": self.cluster_def.name if self.cluster_def else None,
            "kind": self.cluster_def.kind if self.cluster_def else None,
            "workers": 0,
            "threads": 0,
            "memory": 0,
            "requested": self.requested,
            "adapt": list(self.adapt) if self.adapt else None,
            "max_workers": max_workers(self.cluster_def) if self.cluster_def else 0,
            "dashboard_url": None,
            "scheduler": None,
        }
        if self.client is not None:
            try:
                info = _scheduler_info(self.client)
            except Exception as e:  # noqa: BLE001 - a scheduler gone away is a state, not a crash
                data["error"] = f"the scheduler does not answer: {e}"
                return data
            workers = info.get("workers", {}).values()
            data["workers"] = len(workers)
            data["threads"] = sum(w.get("nthreads", 0) for w in workers)
            data["memory"] = sum(w.get("memory_limit", 0) or 0 for w in workers)
            data["scheduler"] = info.get("address")
            data["dashboard_url"] = _browser_link(self.cluster_def, self.client.dashboard_link)
        return data


STATE = DaskState()


def _browser_link(definition, link):
    """The hub's own gateway is served under the hub's route (/services/dask-gateway/): its
    dashboards are linked by path, which the browser reaches through the hub, not by the
    loopback address the session talks to."""
    from urllib.parse import urlsplit

    if (
        link
        and definition.kind == "dask-gateway"
        and definition.address == os.environ.get(contract.DASK_GATEWAY_URL.name)
    ):
        return urlsplit(link).path
    return link


def catalogue():
    from cygnet.compute.catalogue import load_catalogue

    return load_catalogue(contract.CATALOGUE.get() or None)


def default_cluster():
    """The session's Dask cluster (the site's choice), else dask-local."""
    return contract.DASK_CLUSTER.get()


def session_size():
    """(cores, memory in bytes) of this session: the hub's limits where set, else the machine's."""
    try:
        cores = float(os.environ.get("CPU_LIMIT") or 0)
    except ValueError:
        cores = 0
    if cores <= 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory = int(float(os.environ.get("MEM_LIMIT") or 0))
    except ValueError:
        memory = 0
    if memory <= 0:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, int(cores)), memory


def max_workers(cluster):
    if cluster.max_workers:
        return cluster.max_workers
    return session_size()[0] if cluster.kind == "dask-local" else DEFAULT_GATEWAY_MAX_WORKERS


def connect(cluster=None, workers=None, adapt=None, options=None, namespace=None, on_log=None):
    """Start (or join) a Dask cluster and return its `distributed.Client`, bound as `client` in
    `namespace`. `workers=N` asks for N workers; `adapt=(min, max)` lets the cluster grow and
    shrink with the load; `options` are a gateway's cluster options (worker cores, memory...)."""
    log = on_log or (lambda line: None)
    name = cluster or default_cluster()
    definition = catalogue().cluster(name, engine="dask")
    workers, adapt = _checked_size(definition, workers, adapt)
    options = _checked_options(options)
    _check_importable("dask_gateway" if definition.kind == "dask-gateway" else "distributed")
    with STATE.lock:
        if STATE.state == "connected":
            if STATE.cluster_def.name == name:
                _bind(namespace)
                return STATE.client
            raise BadInput(
                f"this kernel is connected to Dask cluster {STATE.cluster_def.name!r}: "
                "%dask disconnect first, or restart the kernel"
            )
        STATE.reset()
        STATE.state, STATE.cluster_def = "connecting", definition
        try:
            if definition.kind == "dask-local":
                if options:
                    raise BadInput("options are for gateway clusters; dask-local takes workers or adapt")
                _start_local(definition, workers, adapt, log)
            else:
                _start_gateway(definition, workers, adapt, options, log)
            STATE.state = "connected"
            STATE.usage = _record_usage(definition, STATE.requested)
        except CygnetError as e:
            _close_quietly()
            STATE.reset(error=str(e))
            raise
        except Exception as e:  # noqa: BLE001 - Dask's own errors, named for the user
            _close_quietly()
            STATE.reset(error=f"{type(e).__name__}: {e}")
            raise Unavailable(f"cannot start Dask cluster {name!r}: {type(e).__name__}: {e}") from e
    _bind(namespace)
    log(f"Dask: connected to {name} ({definition.kind}); dashboard: {STATE.client.dashboard_link}")
    return STATE.client


def _record_usage(definition, workers):
    """The cluster, for the server's metrics (cygnet.compute.usage). Not counted for the usage
    ledger: a local cluster runs on the session's cores, a gateway's the hub counts itself."""
    from cygnet.compute import usage

    try:
        return usage.begin("dask", definition.name, definition.kind, workers=workers)
    except OSError:  # bookkeeping never fails a connect
        return None


def _usage_workers(workers):
    if STATE.usage:
        from cygnet.compute import usage

        usage.update(STATE.usage, workers=int(workers))


def _check_importable(module):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        view = contract.VIEW.get() or "this kernel's view"
        raise Unavailable(
            f"{view} has no {module.replace('_', '-')}: choose a view that ships Dask "
            "(or build one with `cygnet views build --dask`)"
        )


def _checked_size(definition, workers, adapt):
    limit = max_workers(definition)
    where = "this session's cores" if definition.kind == "dask-local" and not definition.max_workers else "the site"
    if workers is not None and adapt is not None:
        raise BadInput("ask for a number of workers or for adapt (minimum, maximum), not both")
    if workers is not None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise BadInput(f"workers is a whole number, not {workers!r}")
        if workers > limit:
            raise BadInput(f"{workers} workers is more than {definition.name} allows ({limit}, set by {where})")
    if adapt is not None:
        try:
            low, high = (int(x) for x in adapt)
        except (TypeError, ValueError):
            raise BadInput(f"adapt is (minimum, maximum) workers, not {adapt!r}") from None
        if not 0 <= low <= high:
            raise BadInput(f"adapt needs 0 <= minimum <= maximum, not ({low}, {high})")
        if high > limit:
            raise BadInput(f"adapt maximum {high} is more than {definition.name} allows ({limit}, set by {where})")
        adapt = (low, high)
    return workers, adapt


def _checked_options(options):
    if options is None:
        return {}
    if isinstance(options, (list, tuple)):  # ["key=value", ...] from %dask connect --option
        pairs = {}
        for item in options:
            if "=" not in str(item):
                raise BadInput(f"an option is key=value, not {item!r}")
            key, value = str(item).split("=", 1)
            pairs[key.strip()] = value.strip()
        return pairs
    if not isinstance(options, dict):
        raise BadInput("options is a mapping of a gateway's cluster options to values")
    return dict(options)


def _start_local(definition, workers, adapt, log):
    from distributed import Client

    from cygnet.compute.ports import PortLease, port_range, ports_dir
    from cygnet.core.session_key import session_key

    from .private import private_local_cluster, temporary_security

    cores, memory = session_size()
    count = workers if workers is not None else (adapt[0] if adapt else min(cores, 4))
    per_worker = max(1, cores // max(count, 1))
    lease = PortLease(ports_dir(), port_range(), count=1)
    STATE.lease = lease
    if lease.note:
        log(f"Dask: {lease.note}")
    _set_dashboard_link(lease.ports[0])
    log(f"Dask: starting {count} local worker(s), {per_worker} thread(s) each")
    # Workers are processes of the kernel's own Python (its view) that exit when the kernel does.
    # The cluster answers only this session: TLS with its own credentials, a gated dashboard.
    security = temporary_security()
    cluster = private_local_cluster(
        session_key(),
        n_workers=count,
        threads_per_worker=per_worker,
        # The session's memory shared by as many workers as it may scale to, so scaling up never
        # promises more than the session has.
        memory_limit=memory // max(count, adapt[1] if adapt else 0, max_workers(definition), 1),
        host="127.0.0.1",
        dashboard_address=f"127.0.0.1:{lease.ports[0]}",
        processes=True,
        protocol="tls",
        security=security,
    )
    STATE.cluster = cluster
    if adapt:
        cluster.adapt(minimum=adapt[0], maximum=adapt[1])
    STATE.adapt, STATE.requested = adapt, count
    STATE.client = Client(cluster, security=security, set_as_default=True)


def _set_dashboard_link(port):
    """Dashboard links through the Jupyter server (its login), which JupyterLab's Dask panels
    and `client.dashboard_link` then use; the plain address outside a server."""
    import dask

    base = contract.DASK_DASHBOARD_BASE.get()
    if base:
        dask.config.set({"distributed.dashboard.link": f"{base}{port}/status"})


def gateway_for(definition):
    """A dask_gateway.Gateway for a catalogue cluster, after its address answered."""
    import urllib.error
    import urllib.request

    from dask_gateway import Gateway

    try:  # the standard library: a view may have no requests
        with urllib.request.urlopen(f"{definition.address}/api/health", timeout=GATEWAY_TIMEOUT):
            pass
    except urllib.error.HTTPError as e:
        if e.code >= 500:
            raise Unavailable(f"the Dask gateway at {definition.address} answers {e.code}") from None
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise Unavailable(
            f"the Dask gateway of {definition.name!r} at {definition.address} does not answer: {reason}"
        ) from None
    return Gateway(
        address=definition.address, proxy_address=definition.proxy_address or None, auth=gateway_auth(definition)
    )


def gateway_auth(definition):
    from dask_gateway import auth

    if definition.auth == "jupyterhub":
        if not os.environ.get("JUPYTERHUB_API_TOKEN"):
            raise Unavailable(
                f"{definition.name!r} authenticates through JupyterHub, and this session is not the hub's"
            )
        return auth.JupyterHubAuth()
    if definition.auth == "kerberos":
        return auth.KerberosAuth()
    import getpass

    return auth.BasicAuth(os.environ.get("JUPYTERHUB_USER") or getpass.getuser(), "")


def _start_gateway(definition, workers, adapt, options, log):
    gateway = gateway_for(definition)
    cluster_options = gateway.cluster_options()
    known = list(cluster_options)
    for key, value in options.items():
        if key not in known:
            raise BadInput(f"the gateway has no option {key!r} (its options: {', '.join(known) or 'none'})")
        try:
            cluster_options[key] = _typed(cluster_options[key], value)
        except (TypeError, ValueError) as e:
            raise BadInput(f"gateway option {key}: {e}") from None
    view = contract.VIEW.get()
    if "view" in known and "view" not in options and view:
        try:  # workers in the kernel's own view, when the gateway offers it
            cluster_options["view"] = view
        except ValueError:
            log(f"Dask: the gateway does not offer view {view}; its workers use its default")
    if "kerberos_cache" in known and "kerberos_cache" not in options and os.environ.get("KRB5CCNAME"):
        # Workers that run as the user (the hub's gateway) read root:// with the session's ticket.
        cluster_options["kerberos_cache"] = os.environ["KRB5CCNAME"]
    log(f"Dask: asking {definition.address} for a cluster")
    cluster = gateway.new_cluster(cluster_options, shutdown_on_close=True)
    STATE.cluster = cluster
    STATE.record = records.write(definition, cluster.name)
    if adapt:
        cluster.adapt(minimum=adapt[0], maximum=adapt[1])
    elif workers:
        cluster.scale(workers)
    STATE.adapt, STATE.requested = adapt, workers or (adapt[0] if adapt else 0)
    STATE.client = cluster.get_client(set_as_default=True)


def _typed(current, value):
    """A text value from a form or a magic as the type the gateway's option has."""
    if isinstance(value, str) and not isinstance(current, str):
        if isinstance(current, bool):
            return value.lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    return value


def scale(workers):
    with STATE.lock:
        _require_connected()
        workers, _ = _checked_size(STATE.cluster_def, workers, None)
        STATE.cluster.scale(workers)
        STATE.adapt, STATE.requested = None, workers
        _usage_workers(workers)
    return status()


def adapt(minimum, maximum):
    with STATE.lock:
        _require_connected()
        _, bounds = _checked_size(STATE.cluster_def, None, (minimum, maximum))
        STATE.cluster.adapt(minimum=bounds[0], maximum=bounds[1])
        STATE.adapt = bounds
        _usage_workers(bounds[0])  # at least; the metrics show what was asked for
    return status()


def disconnect(namespace=None):
    """Close the client and shut the cluster down (a gateway cluster too)."""
    with STATE.lock:
        _close_quietly()
        STATE.reset()
    if namespace is not None and namespace.get("client") is not None and _is_client(namespace.get("client")):
        namespace.pop("client", None)


def status():
    with STATE.lock:
        return STATE.to_dict()


def _require_connected():
    if STATE.state != "connected":
        raise NotFound("this kernel has no Dask cluster: %dask connect first")


def _close_quietly():
    for part in (STATE.client, STATE.cluster):
        if part is not None:
            try:
                part.close()
            except Exception:  # noqa: BLE001 - closing what may already be gone
                pass
    if STATE.record:
        records.remove(STATE.record)
    if STATE.usage:
        from cygnet.compute import usage

        usage.end(STATE.usage)
    if STATE.lease is not None:
        STATE.lease.release()


def _bind(namespace):
    if namespace is None:  # called from a notebook as cygnet.dask.connect(): its namespace
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        namespace = shell.user_ns if shell is not None else None
    if namespace is not None:
        namespace["client"] = STATE.client


def _is_client(value):
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(value, Client)


def _scheduler_info(client):
    try:
        return client.scheduler_info(n_workers=-1)
    except TypeError:  # older distributed: all workers are listed
        return client.scheduler_info()
