"""Running helper programs with a hard time limit."""

import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from .errors import Unavailable


def run_bounded(
    cmd: Sequence[str], *, timeout: float, what: str, input: bytes | None = None, **popen_kwargs: Any
) -> subprocess.CompletedProcess:
    """Run `cmd` to completion, capturing stdout and stderr as bytes; `input` goes to its stdin
    (a secret, never its command line).

    The command gets its own process group, and on timeout the whole group is killed: a plain
    subprocess.run would wait forever on a grandchild (a `sleep` in a setup script) that holds
    the pipes open. Raises Unavailable naming `what` on timeout or when the program is missing.
    """
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            **popen_kwargs,
        )
    except OSError as e:
        raise Unavailable(f"{what}: cannot run {cmd[0]}: {e.strerror or e}") from e
    pass_niceness_on(proc.pid)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise Unavailable(f"{what}: gave no answer within {timeout:g} s and was stopped") from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(data: str | bytes, lines: int = 5) -> str:
    """The last few lines of a program's output, for an error message."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return "\n".join(data.strip().splitlines()[-lines:])


def stream_bounded(
    cmd: Sequence[str],
    *,
    timeout: float,
    what: str,
    on_line: Callable[[str], None],
    watch: Callable[[], None] | None = None,
    **popen_kwargs: Any,
) -> int:
    """Run `cmd`, passing each line of its merged output to `on_line` as it comes (git's
    progress lines end in \\r, so both \\r and \\n end a line). Stopped, with Unavailable, when
    it runs past `timeout`; `watch()` is called about twice a second and may raise to stop it
    (a size limit). Returns the exit code."""
    import queue
    import threading
    import time

    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen_kwargs,
        )
    except OSError as e:
        raise Unavailable(f"{what}: cannot run {cmd[0]}: {e.strerror or e}") from e
    pass_niceness_on(proc.pid)
    lines: queue.Queue[str | None] = queue.Queue()
    stdout: Any = proc.stdout  # a BufferedReader: read1 returns what has arrived

    def read() -> None:
        buf = b""
        for chunk in iter(lambda: stdout.read1(65536), b""):
            buf += chunk
            *complete, buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for line in complete:
                if line.strip():
                    lines.put(line.decode("utf-8", "replace"))
        if buf.strip():
            lines.put(buf.decode("utf-8", "replace"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    next_watch = 0.0
    try:
        while True:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                line = ""
            if line is None:
                if watch:
                    watch()  # a quick run can finish between two checks
                break
            if line:
                on_line(line)
            if time.monotonic() > deadline:
                raise Unavailable(f"{what}: not done within {timeout:g} s, stopped")
            if watch and time.monotonic() >= next_watch:
                watch()
                next_watch = time.monotonic() + 0.5
        return proc.wait()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child, exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def process_start(pid: int | None) -> str | None:
    """The process's start time (clock ticks since boot), which tells a reused pid apart; None
    when no such process runs."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, TypeError):
        return None


def die_with_parent() -> None:
    """For preexec_fn: the child gets SIGTERM when the thread that started it ends (Linux's
    PR_SET_PDEATHSIG), so it never runs on unseen after its server is gone."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def run_nicer(pid: int, nice: int) -> None:
    """Make process `pid`, just started in a session of its own (setsid), run at niceness `nice`.

    With Linux's autogroups (CONFIG_SCHED_AUTOGROUP, on in most distributions' kernels) each
    session is a scheduling group of its own, weighed against the others whatever its processes'
    niceness: ten sessions started at nice 5 took the cores as ten nice-0 groups from the hub.
    So the group's niceness is set too (/proc/<pid>/autogroup), and only for a session leader:
    a process in its starter's session would renice the starter's group with it. Raises
    BlockingIOError while Linux's limit on group changes holds (see run_nicer_soon)."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    if os.getsid(pid) != pid:
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as group:
            group.write(str(nice))
    except FileNotFoundError:  # no autogroups in this kernel: the process's niceness is what counts
        pass


def autogroup_nice(pid: int) -> int | None:
    """The niceness of process `pid`'s scheduling group under Linux's autogroups, or None where
    none applies: a kernel without them, or a process still in the boot's default group (started
    by init without a session of its own, as in some containers), whose file reads empty."""
    try:
        with open(f"/proc/{pid}/autogroup") as group:
            words = group.read().split()
    except FileNotFoundError:
        return None
    return int(words[-1]) if words else None


# A helper started by a process that is not root and gone within this long takes no turn of
# Linux's one group change a tenth of a second on the whole machine (kernels and sessions need them).
SHORT_LIVED = 0.5  # seconds


def pass_niceness_on(pid: int) -> None:
    """Give `pid`, just started in a session of its own, this process's niceness for it and its
    scheduling group (run_nicer), when this process runs nicer than 0 (a session under the hub):
    a terminal, a batch job, a Spark Connect server or a build would otherwise take the cores
    as a nice-0 group beside the hub, whatever its niceness. Never waits. Root changes the group
    at once (again from a thread while Linux's limit holds, as in a container without
    CAP_SYS_ADMIN); any other account from a thread after SHORT_LIVED, only if the process is
    still there. A process gone is left alone."""
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    if nice <= 0:
        return
    delay = SHORT_LIVED
    if os.geteuid() == 0:
        try:
            run_nicer(pid, nice)
            return
        except BlockingIOError:
            delay = 0.1
        except OSError:  # gone already, or not ours to change
            return
    import threading

    retrying = threading.Thread(target=_run_nicer_retrying, args=(pid, nice, delay), daemon=True, name="cygnet-nicer")
    retrying.start()


def _run_nicer_retrying(pid: int, nice: int, delay: float) -> None:
    """run_nicer_soon, from a thread of its own after `delay` seconds; a process gone by then, or
    Linux's limit holding to the end, leaves it as it is."""
    import asyncio
    import time

    time.sleep(delay)
    try:
        asyncio.run(run_nicer_soon(pid, nice))
    except OSError:
        pass


async def run_nicer_soon(pid: int, nice: int, tries: int = 30) -> None:
    """run_nicer, tried again while Linux's limit on autogroup changes holds: without
    CAP_SYS_ADMIN, one change a tenth of a second on the whole machine (a hub or server that is
    not root, starting several sessions or kernels at once). The process's own niceness is set
    at the first try."""
    import asyncio

    for _ in range(tries - 1):
        try:
            run_nicer(pid, nice)
            return
        except BlockingIOError:
            await asyncio.sleep(0.1)
    run_nicer(pid, nice)
