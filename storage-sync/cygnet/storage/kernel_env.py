"""What storage contributes to every kernel's environment (the `cygnet.kernel_env` entry
point): the site's XRootD endpoint and the user's home on it."""

from cygnet.core import contract


def kernel_env(config):
    return {contract.STORAGE_ENDPOINT.name: config.storage_endpoint, contract.STORAGE_HOME.name: config.storage_home}
