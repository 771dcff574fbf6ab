"""The configuration reference (docs/configuration.md), made from the traits of `Cygnet` so it
cannot drift from them: `python -m cygnet.core.config_docs > docs/configuration.md` (`make docs`).
A test fails when the committed page is not what this makes."""

import json

from .config import Cygnet

HEADER = """# Configuration reference

<!-- Made by `python -m cygnet.core.config_docs` from the traits of cygnet.core.config.Cygnet:
     edit the help texts there, then run `make docs`. -->

Set these in `jupyter_server_config.py` (on Jupyter's config path, e.g. `/etc/jupyter/`) as
`c.Cygnet.<option> = ...`, or on any command line (`cygnet up`, `cygnet sync`, ...) as
`--Cygnet.<option>=<value>`. The server and the `cygnet` command read the same files.

| Option | Type | Default | Meaning |
| --- | --- | --- | --- |
"""

FOOTER = """
Environment variables: `CYGNET_DATA_DIR` (the data dir), `CYGNET_VIEWS_PATH` (views roots in
front of the configured ones), `CYGNET_BOX_USER` and `CYGNET_BOX_PASSWORD` (a WebDAV box's
credentials), and Jupyter's own (`JUPYTER_TOKEN`, `JUPYTER_CONFIG_DIR`, ...).
"""


def reference() -> str:
    rows = []
    computed = set(Cygnet._trait_default_generators)
    for name, trait in sorted(Cygnet.class_traits(config=True).items()):
        default = "computed (see meaning)" if name in computed else f"`{json.dumps(trait.default())}`"
        meaning = " ".join(trait.help.split()).replace("|", "\\|")
        rows.append(f"| `Cygnet.{name}` | {type(trait).__name__} | {default} | {meaning} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


if __name__ == "__main__":
    print(reference(), end="")
