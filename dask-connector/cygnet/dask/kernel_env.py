"""What the Dask connector contributes to every kernel's environment (the `cygnet.kernel_env`
entry point). The catalogue and the port leases are the compute layer's (cygnet.compute.kernel_env)."""

import os
from pathlib import Path

from cygnet.core import contract


def records_dir(config):
    """Where kernels record their gateway clusters, for the server's sweep (`records`)."""
    return str(Path(config.data_dir) / "dask" / "clusters")


def kernel_env(config):
    env = {
        contract.DASK_RECORDS.name: records_dir(config),
        contract.DASK_CLUSTER.name: config.dask_default_cluster,
        # The server's route to a local cluster's dashboard (cygnet.server.dask_dashboard).
        contract.DASK_DASHBOARD_BASE.name: _dashboard_base(),
    }
    if os.environ.get("JUPYTERHUB_API_TOKEN") and _hub_gateway(config):
        # A gateway that authenticates through the hub takes the user's own token, as
        # dask-gateway's JupyterHubAuth reads it; only when the site has such a gateway.
        env["JUPYTERHUB_API_TOKEN"] = os.environ["JUPYTERHUB_API_TOKEN"]
    return env


def _hub_gateway(config):
    from cygnet.compute.catalogue import load_catalogue
    from cygnet.core.errors import CygnetError

    try:
        clusters = load_catalogue(config.clusters or None).clusters
    except CygnetError:
        return False
    return any(c.kind == "dask-gateway" and c.auth == "jupyterhub" for c in clusters)


def _dashboard_base():
    base = contract.SERVER_BASE_URL.get()
    return (base.rstrip("/") + "/cygnet/dask-dashboard/") if base else ""
