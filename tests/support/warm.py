"""The warm jobs local runs leave behind (cygnet.runs.warm) outlive the test that ran them by
their idle time: tests stop them."""

import os
import signal
import socket
import struct
import time

from cygnet.core.proc import alive
from cygnet.runs import warm


def warm_jobs(under):
    """The pids of the warm jobs whose runs folder is under `under`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
        except OSError:
            continue
        if b"cygnet.runs.warm" in words and any(w.startswith(str(under).encode()) for w in words):
            found.append(int(name))
    return found


def stop_warm_jobs(under, timeout=30):
    """Stop them (their kernels follow their parent) and wait until they are gone."""
    pids = warm_jobs(under)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def sockets(data):
    """The sockets of the warm jobs of data dir `data`."""
    folder = data / "runs" / warm.FOLDER
    return sorted(folder.glob("*.sock")) if folder.exists() else []


def connected(path):
    """A connection to the socket at `path`, through /proc/self/fd: a test folder's path is
    longer than a socket address may be."""
    fd = os.open(path.parent, os.O_PATH)
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(10)
        conn.connect(f"/proc/self/fd/{fd}/{path.name}")
        return conn
    finally:
        os.close(fd)


def spare_pid(path):
    """The pid of the spare answering on `path` (SO_PEERCRED), or None."""
    try:
        with connected(path) as conn:
            pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            conn.sendall(b'{"ping": true}\n')
            return pid if b'"ok"' in conn.recv(100) else None
    except OSError:
        return None


def wait_for_warm_job(data, other_than=(), timeout=120):
    """The pid of a warm job of data dir `data` (not one of `other_than`) once one waits (for a
    benchmark: its start must not overlap what is timed next)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = next((pid for pid in map(spare_pid, sockets(data)) if pid and pid not in other_than), None)
        if pid:
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"no warm job waits in {data} after {timeout} s")
