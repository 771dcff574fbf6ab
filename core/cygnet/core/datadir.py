"""Where Cygnet keeps its state by default (no configuration library needed to know it)."""

import os

from . import contract


def default_data_dir() -> str:
    """$CYGNET_DATA_DIR, else $XDG_DATA_HOME/cygnet, else ~/.local/share/cygnet."""
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return contract.DATA_DIR.get() or os.path.join(xdg, "cygnet")
