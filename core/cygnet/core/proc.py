"""Running helper programs with a hard time limit."""

import os
import signal
import subprocess

from .errors import Unavailable


def run_bounded(cmd, *, timeout, what, **popen_kwargs):
    """Run `cmd` to completion, capturing stdout and stderr as bytes.

    The command gets its own process group, and on timeout the whole group is killed: a plain
    subprocess.run would wait forever on a grandchild (a `sleep` in a setup script) that holds
    the pipes open. Raises Unavailable naming `what` on timeout or when the program is missing.
    """
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            **popen_kwargs,
        )
    except OSError as e:
        raise Unavailable(f"{what}: cannot run {cmd[0]}: {e.strerror or e}") from e
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise Unavailable(f"{what}: gave no answer within {timeout:g} s and was stopped") from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(data, lines=5):
    """The last few lines of a program's output, for an error message."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return "\n".join(data.strip().splitlines()[-lines:])
