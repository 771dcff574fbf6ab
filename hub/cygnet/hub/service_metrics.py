"""Prometheus metrics of Cygnet's hub services (cygnet-shares, cygnet-runs) at `<prefix>metrics`.

Like the hub's own /hub/metrics, they answer a hub token whose owner has `read:metrics` (a site
gives it to its Prometheus service through `c.JupyterHub.load_roles`) and access to the service;
anyone else gets a 403 that says which scope is missing. Counts are read from the service's
records at each scrape; labels carry states and outcomes, never a user, a path or a token."""

from prometheus_client import REGISTRY, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from tornado import web

from .service_api import ServiceApiHandler

SCOPE = "read:metrics"
WAKES = Counter(
    "cygnet_runs_service_wakes", "Sessions the runs service looked at for their work, by outcome", ["outcome"]
)


class MetricsHandler(ServiceApiHandler):
    def get(self):
        user = self.current_user
        if not user:
            raise web.HTTPError(403, f"a hub token with {SCOPE} and access to this service is needed")
        if SCOPE not in (user.get("scopes") or []):
            raise web.HTTPError(403, f"these metrics need the {SCOPE} scope, which this token does not have")
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(REGISTRY))


class RecordsCollector:
    """Gauges read from a service's records at each scrape: `counts()` yields (name,
    documentation, label names, {label values: count})."""

    def __init__(self, counts):
        self.counts = counts

    def collect(self):
        for name, documentation, labels, values in self.counts():
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for key, count in sorted(values.items()):
                family.add_metric(list(key), count)
            yield family

    def describe(self):
        return []  # collected on demand only


def register(counts):
    REGISTRY.register(RecordsCollector(counts))
