"""Who Cygnet acts for."""

import getpass
import os


def current_user() -> str:
    """The JupyterHub user when there is one, else the account running Cygnet."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
