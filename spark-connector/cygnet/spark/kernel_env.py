"""What the Spark connector contributes to every kernel's environment (the `cygnet.kernel_env`
entry point): the site's settings its kernel side reads. The catalogue and the port leases are
the compute layer's (cygnet.compute.kernel_env)."""

import os
from pathlib import Path


def servers_dir(config):
    """Where managed Spark Connect servers keep their state (the server's and the kernels')."""
    return str(Path(config.data_dir) / "spark" / "servers")


def kernel_env(config):
    from .tokens import tokens_dir

    return {
        "CYGNET_SPARK_SERVERS_DIR": servers_dir(config),
        "CYGNET_SPARK_CLUSTER": config.spark_default_cluster,
        # The server's route to a driver's UI (cygnet.server.spark_ui); empty outside a server.
        "CYGNET_SPARK_UI_BASE": _ui_base(),
        "CYGNET_SPARK_PRELOAD": "1" if config.spark_preload_client else "",
        # Where a managed Connect server a kernel starts works (relative paths land there).
        "CYGNET_WORKSPACE": os.environ.get("CYGNET_WORKSPACE", ""),
        # Delegation tokens the server fetched for clusters with a token service (.tokens).
        "CYGNET_SPARK_TOKENS": tokens_dir(config.data_dir),
    }


def _ui_base():
    base = os.environ.get("CYGNET_SERVER_BASE_URL")
    return (base.rstrip("/") + "/cygnet/spark-ui/") if base else ""
