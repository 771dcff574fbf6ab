"""Dask's kinds of cluster in the site's catalogue (`cygnet.compute.catalogue`): `dask-local`
(a LocalCluster beside the kernel, offered even when the site lists none) and `dask-gateway` (a
site's dask-gateway; under a hub that runs one, $CYGNET_DASK_GATEWAY_URL adds it).
Kernel side too: standard library only.

    - {name: dask-local, kind: dask-local, max_workers: 8}
    - {name: gateway, kind: dask-gateway, address: "https://dask.example.org", auth: jupyterhub}
"""

from __future__ import annotations  # kernel side: Python 3.8 reads the annotations unevaluated

import re
from dataclasses import dataclass

from cygnet.compute.catalogue import Cluster, check_fields, with_clusters
from cygnet.compute.kinds import ClusterKind, Engine
from cygnet.core import contract
from cygnet.core.errors import BadInput

GATEWAY_AUTHS = ("", "jupyterhub", "kerberos", "basic")
FIELDS = ("address", "proxy_address", "auth", "max_workers")


@dataclass(frozen=True)
class DaskCluster(Cluster):
    address: str = ""  # dask-gateway: the gateway's http(s) address
    proxy_address: str = ""  # dask-gateway: its scheduler proxy, when not on the same address
    auth: str = ""  # dask-gateway: jupyterhub, kerberos or basic
    max_workers: int = 0  # most workers a user may ask for (0: the session's cores, or 100 on a gateway)
    ENGINE = "dask"


def _parse(c, name, source):
    kind = c["kind"]
    check_fields(c, name, source, FIELDS, "Dask")
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
    return DaskCluster(
        name=name,
        kind=kind,
        display_name=str(c.get("display_name") or ""),
        address=address.rstrip("/"),
        proxy_address=proxy,
        auth=auth,
        max_workers=max_workers,
    )


def with_hub_gateway(catalogue):
    """The catalogue with the hub's own gateway, when the hub runs one ($CYGNET_DASK_GATEWAY_URL)."""
    url = contract.DASK_GATEWAY_URL.get()
    if not url or "dask-gateway" in catalogue.names():
        return catalogue
    spec = {"kind": "dask-gateway", "address": url, "auth": "jupyterhub"}
    spec["proxy_address"] = contract.DASK_GATEWAY_PROXY.get()
    gateway = _parse(spec, "dask-gateway", f"${contract.DASK_GATEWAY_URL.name}")
    return with_clusters(catalogue, DaskCluster(**{**gateway.__dict__, "display_name": "Dask Gateway (the hub's)"}))


DEFAULT_DASK_LOCAL = DaskCluster(name="dask-local", kind="dask-local", display_name="Dask (this machine)")

ENGINE = Engine(
    name="dask",
    title="Dask",
    connect_hint="%dask connect (cygnet.dask.connect)",
    kinds=(ClusterKind("dask-local", _parse, FIELDS), ClusterKind("dask-gateway", _parse, FIELDS)),
    default=DEFAULT_DASK_LOCAL,
    always=True,  # Dask needs no site set-up: a catalogue that lists no Dask cluster gets dask-local
    extra={"augment": with_hub_gateway},
)
