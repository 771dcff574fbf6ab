"""The real `cygnet` command, for tests."""

import os
import subprocess

from tests.support.jupyter import VENV_BIN

PLATFORM = "x86_64-test"  # the platform of the test views


def cygnet(*args, env=None, timeout=600, input=None):
    """Run the real `cygnet` command (with `input` on its stdin); returns the CompletedProcess (text)."""
    return subprocess.run(
        [str(VENV_BIN / "cygnet"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
