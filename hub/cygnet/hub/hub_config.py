"""The JupyterHub configuration `cygnet hub` starts with (`jupyterhub -f` this file): an embedded
default that works on a fresh machine, then the site's own file (`cygnet hub -f site.py`), which
may change anything. Read by JupyterHub as a config file: `c` and `load_subconfig` are given."""

import os

from cygnet.hub.setup import configure

configure(c)  # noqa: F821 - JupyterHub's config object
if os.environ.get("CYGNET_HUB_SITE_CONFIG"):
    load_subconfig(os.environ["CYGNET_HUB_SITE_CONFIG"])  # noqa: F821
