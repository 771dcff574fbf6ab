"""Startup of Cygnet's own processes (the single-user server, `cygnet up`, batch jobs, `cygnet
run`): jsonschema loads rfc3987-syntax when it is installed, an optional checker of IRI formats
that builds a parser at import: 1.1 s of a single-user server's 3 s start here (jupyter_server
imports jsonschema through jupyter_events), 0.7 s of a batch job's. Nothing Cygnet or Jupyter
validates uses an IRI format, so these processes go without it."""

import sys


def skip_slow_optional_imports() -> None:
    """Make `import rfc3987_syntax` fail, so jsonschema leaves IRI formats unchecked. Call it
    before anything imports jsonschema; for Cygnet's own processes only."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not importable"
