"""What the Spark connector contributes to every kernel's environment (the `cygnet.kernel_env`
entry point): the site's settings its kernel side reads. The catalogue and the port leases are
the compute layer's (cygnet.compute.kernel_env)."""

from pathlib import Path

from cygnet.core import contract


def servers_dir(config):
    """Where managed Spark Connect servers keep their state (the server's and the kernels')."""
    return str(Path(config.data_dir) / "spark" / "servers")


def kernel_env(config):
    from .tokens import tokens_dir

    return {
        contract.SPARK_SERVERS_DIR.name: servers_dir(config),
        # A managed server a kernel starts belongs to the kernel's Cygnet server (.managed).
        contract.SERVER_ID.name: contract.SERVER_ID.get(),
        contract.SPARK_CLUSTER.name: config.spark_default_cluster,
        # The server's route to a driver's UI (cygnet.server.spark_ui); empty outside a server.
        contract.SPARK_UI_BASE.name: _ui_base(),
        contract.SPARK_PRELOAD.name: "1" if config.spark_preload_client else "",
        # Where a managed Connect server a kernel starts works (relative paths land there).
        contract.WORKSPACE.name: contract.WORKSPACE.get(),
        # Delegation tokens the server fetched for clusters with a token service (.tokens).
        contract.SPARK_TOKENS.name: tokens_dir(config.data_dir),
    }


def _ui_base():
    base = contract.SERVER_BASE_URL.get()
    return (base.rstrip("/") + "/cygnet/spark-ui/") if base else ""
