"""Cygnet's Prometheus metrics, served with jupyter_server's own at /metrics (behind its login:
a token, as `c.ServerApp.authenticate_prometheus` is on by default).

Counts of what the session holds are read when Prometheus scrapes (runs by state and backend,
schedules, notifications, sync jobs and the bytes they sent, managed Spark Connect servers, the
kernels' Spark sessions and Dask clusters from their records, shares), so they need no
bookkeeping; events are counters where they happen (kernel starts by view in
cygnet.kernels.provisioner, share page views in cygnet.shares.pages). Labels carry states,
backends, channels, kinds of cluster and view names, never a file name or a token."""

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from cygnet.shares.store import ShareStore


class SessionCollector:
    """Reads the session's records at each scrape. One per process: the app it reads is the
    latest one loaded (tests load several in one process)."""

    app = None

    def collect(self):
        app = SessionCollector.app
        if app is None:
            return
        yield from _runs(app)
        yield from _sync(app)
        yield from _spark_servers(app)
        yield from _engines(app)
        yield from _shares(app)

    def describe(self):
        return []  # collected on demand only: nothing to check at registration


_COLLECTOR = SessionCollector()


def start(app):
    """Count `app`'s records from now on (registered with Prometheus once per process)."""
    if SessionCollector.app is None:
        REGISTRY.register(_COLLECTOR)
    SessionCollector.app = app


def _counted(name, documentation, labels, rows):
    family = GaugeMetricFamily(name, documentation, labels=labels)
    counts = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    for values, count in sorted(counts.items()):
        family.add_metric(list(values), count)
    return family


def _runs(app):
    runs = app.runs.store.list(app.runs.owner, limit=100_000)
    pairs = ((r.state, r.backend) for r in runs)
    yield _counted("cygnet_runs", "Batch runs, by state and backend", ["state", "backend"], pairs)
    schedules = app.schedules.list()
    yield _counted(
        "cygnet_schedules",
        "Schedules, by whether they are paused",
        ["paused"],
        (("true" if s.paused else "false",) for s in schedules),
    )
    fired = CounterMetricFamily("cygnet_schedule_firings", "Slots of schedules fired or skipped", labels=["what"])
    fired.add_metric(["fired"], sum(s.fired for s in schedules))
    fired.add_metric(["skipped"], sum(s.skipped for s in schedules))
    yield fired
    yield _counted(
        "cygnet_notifications",
        "Run notifications, by channel and state",
        ["channel", "state"],
        app.schedules_outbox.counts(app.runs.owner),
    )


def _sync(app):
    jobs = app.sync_jobs.list(app.runs.owner)
    yield _counted("cygnet_sync_jobs", "Sync jobs, by state", ["state"], ((j["state"],) for j in jobs))
    sent = CounterMetricFamily("cygnet_sync_bytes", "Bytes copied into the box by sync jobs that ended")
    sent.add_metric([], sum((j.get("summary") or {}).get("bytes", 0) for j in jobs))
    yield sent


def _spark_servers(app):
    states = ((s["state"],) for s in app.spark_servers.list())
    yield _counted("cygnet_spark_connect_servers", "Managed Spark Connect servers, by state", ["state"], states)


def _engines(app):
    """The kernels' running Spark sessions and Dask clusters (their records, cygnet.compute.usage),
    by the kind of cluster: how many, the Spark executors' cores, the Dask workers asked for."""
    from cygnet.compute.kernel_env import usage_dir_of
    from cygnet.compute.usage import read, running

    live = [record for _, record in read(usage_dir_of(app.cygnet)) if running(record)]
    gauges = {
        ("spark", "sessions"): GaugeMetricFamily("cygnet_spark_sessions", "Kernels' Spark sessions", labels=["kind"]),
        ("spark", "cores"): GaugeMetricFamily(
            "cygnet_spark_executor_cores", "Cores of the kernels' Spark executors", labels=["kind"]
        ),
        ("dask", "sessions"): GaugeMetricFamily("cygnet_dask_clusters", "Kernels' Dask clusters", labels=["kind"]),
        ("dask", "workers"): GaugeMetricFamily(
            "cygnet_dask_workers", "Workers the kernels' Dask clusters asked for", labels=["kind"]
        ),
    }
    sums = {}
    for record in live:
        engine, kind = record.get("engine"), record.get("kind", "")
        for what, value in (("sessions", 1), ("cores", record.get("cores", 0)), ("workers", record.get("workers", 0))):
            if (engine, what) in gauges:
                sums[engine, what, kind] = sums.get((engine, what, kind), 0) + value
    for (engine, what, kind), value in sorted(sums.items()):
        gauges[engine, what].add_metric([kind], value)
    yield from gauges.values()


def _shares(app):
    if not isinstance(app.shares, ShareStore):
        return  # the hub's share service counts its own (a scrape does not wait on another service)
    shares = app.shares.list(app.runs.owner)
    yield _counted(
        "cygnet_shares", "Share links, by state", ["state"], (("expired" if s.expired else "active",) for s in shares)
    )
