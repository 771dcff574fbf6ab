"""nbconvert's HTML exporter, with Jinja's compiled templates kept on disk.

nbconvert compiles its Jinja templates for every exporter it makes: 0.2 s of the 0.34 s a batch
run took to render its notebook as HTML, in a process that renders once. Jinja's own bytecode
cache keeps the compiled templates under ~/.cache/cygnet/jinja, keyed by each template's name and
source (an upgraded template is compiled again) and by the Python version. It holds code, so it is
used only in a folder private to this account.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from .disk_cache import cache_path


def html_exporter(**traits: Any) -> Any:
    """An nbconvert HTMLExporter (with these traits) whose templates are compiled once."""
    return _exporter_class()(**traits)


@functools.cache
def _exporter_class() -> Any:
    from jinja2 import FileSystemBytecodeCache
    from nbconvert import HTMLExporter

    class CachedTemplatesHTMLExporter(HTMLExporter):  # type: ignore[misc]  # nbconvert is untyped
        def _create_environment(self) -> Any:
            environment = super()._create_environment()
            folder = _private_folder(cache_path("jinja"))
            if folder:
                environment.bytecode_cache = FileSystemBytecodeCache(folder)
            return environment

    return CachedTemplatesHTMLExporter


def _private_folder(folder: str) -> str | None:
    """`folder`, made if missing, when only this account can write into it; else None."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
    except OSError:
        return None  # a read-only home: templates compiled at each render, as nbconvert does
    return folder if st.st_uid == os.getuid() and st.st_mode & 0o022 == 0 else None
