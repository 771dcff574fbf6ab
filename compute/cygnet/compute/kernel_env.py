"""What the compute layer contributes to every kernel's environment (the `cygnet.kernel_env`
entry point): the site's catalogue of clusters and where drivers and schedulers lease ports."""

from pathlib import Path


def ports_dir_of(config):
    """Where kernels lease their driver and scheduler ports (.ports)."""
    return str(Path(config.data_dir) / "compute" / "ports")


def usage_dir_of(config):
    """Where kernels record the cluster cores they use (.usage)."""
    return str(Path(config.data_dir) / "compute" / "usage")


def kernel_env(config):
    from cygnet.core import contract
    from cygnet.core.errors import CygnetError

    from .catalogue import kernel_copy

    catalogue = config.clusters
    if catalogue:
        try:  # JSON for kernels: a view may have no YAML parser
            catalogue = kernel_copy(catalogue, config.data_dir)
        except CygnetError:
            pass  # the file itself: `connect` then reports why it cannot be read
    return {
        contract.CATALOGUE.name: catalogue,
        contract.PORTS.name: config.spark_port_range,
        contract.PORTS_DIR.name: ports_dir_of(config),
        contract.USAGE_RECORDS.name: usage_dir_of(config),
    }
