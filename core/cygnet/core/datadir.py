"""Where Cygnet keeps its state by default (no configuration library needed to know it)."""

import os


def default_data_dir() -> str:
    """$CYGNET_DATA_DIR, else $XDG_DATA_HOME/cygnet, else ~/.local/share/cygnet."""
    if os.environ.get("CYGNET_DATA_DIR"):
        return os.environ["CYGNET_DATA_DIR"]
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(xdg, "cygnet")
