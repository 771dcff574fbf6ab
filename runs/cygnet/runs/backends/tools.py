"""Running a scheduler's command-line tools (sbatch, condor_submit, kubectl): bounded in time, a
missing tool named as such, a failure answered with the tool's own last lines."""

import shutil
from collections.abc import Mapping, Sequence

from cygnet.core.errors import MissingTool, Unavailable
from cygnet.core.proc import run_bounded, tail

QUEUE_TIMEOUT = 30  # seconds a scheduler's tool may take to answer


def require(tool: str, why: str) -> str:
    """The path of `tool`; MissingTool saying `why` it is needed when it is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise MissingTool(f"{why}, and {tool} is not installed here (install it, or choose another backend)")
    return path


def run_tool(
    cmd: Sequence[str],
    what: str,
    env: Mapping[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `cmd`; Unavailable naming `what` when the scheduler does
    not answer in time or the tool fails with a code outside `ok_codes`."""
    try:
        result = run_bounded(list(cmd), timeout=QUEUE_TIMEOUT, what=what, env=None if env is None else dict(env))
    except Unavailable as e:
        raise Unavailable(f"{what}: the scheduler does not answer ({e})") from e
    out = result.stdout.decode("utf-8", "replace")
    err = result.stderr.decode("utf-8", "replace")
    if result.returncode not in ok_codes:
        raise Unavailable(f"{what} failed: {tail(err) or f'exit {result.returncode}'}")
    return result.returncode, out, err
