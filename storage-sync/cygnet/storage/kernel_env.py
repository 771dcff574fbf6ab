"""What storage contributes to every kernel's environment (the `cygnet.kernel_env` entry
point): the site's XRootD endpoint and the user's home on it."""


def kernel_env(config):
    return {"CYGNET_STORAGE_ENDPOINT": config.storage_endpoint, "CYGNET_STORAGE_HOME": config.storage_home}
