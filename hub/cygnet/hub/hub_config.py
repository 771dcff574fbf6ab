"""The JupyterHub configuration `cygnet hub` starts with (`jupyterhub -f` this file): first the
site's own file (`cygnet hub -f site.py`), then Cygnet's embedded defaults for whatever the site
left unset, so a site's choice always wins. Read by JupyterHub as a config file: `c` and
`load_subconfig` are given."""

import os

from cygnet.hub.setup import configure

if os.environ.get("CYGNET_HUB_SITE_CONFIG"):
    load_subconfig(os.environ["CYGNET_HUB_SITE_CONFIG"])  # noqa: F821
configure(c)  # noqa: F821 - JupyterHub's config object
