"""The real `cygnet` command, for tests."""

import os
import subprocess

from tests.support.jupyter import VENV_BIN

PLATFORM = "x86_64-test"  # the platform of the test views


def cygnet(*args, env=None, timeout=600):
    """Run the real `cygnet` command; returns the CompletedProcess (text)."""
    return subprocess.run(
        [str(VENV_BIN / "cygnet"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
