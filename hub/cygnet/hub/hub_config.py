"""The JupyterHub configuration `cygnet hub` starts with (`jupyterhub -f` this file): first the
site's own file (`cygnet hub -f site.py`), then Cygnet's embedded defaults for whatever the site
left unset, so a site's choice always wins. Read by JupyterHub as a config file: `c` and
`load_subconfig` are given."""

from cygnet.core import contract
from cygnet.hub.setup import configure

if contract.HUB_SITE_CONFIG.get():
    load_subconfig(contract.HUB_SITE_CONFIG.get())  # noqa: F821
configure(c)  # noqa: F821 - JupyterHub's config object
