"""`cygnet-singleuser`: JupyterHub's single-user server as Cygnet's hub starts it, a second
quicker: without jsonschema's optional IRI checker (cygnet.core.imports)."""

import sys


def main():
    from cygnet.core.imports import skip_slow_optional_imports

    skip_slow_optional_imports()
    from jupyterhub.singleuser import main as singleuser

    sys.exit(singleuser())
