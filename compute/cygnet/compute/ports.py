"""Ports of drivers and schedulers from a range the site opens in its firewall (as SWAN does for containers).

A port is leased by holding an exclusive lock on <dir>/<port>.lock: the kernel keeps the file
open while its session lives, and the operating system drops the lock when the kernel exits,
however it exits, so a dead session's ports come back on their own. A leased port is also
checked to be free to bind, since other programs do not know about the locks. When another
program (or another account, on purpose) holds every free port of the range, the lease takes
free ports outside it rather than stop the user's session, and says so (`note`).
"""

import errno
import fcntl
import os
import socket

from cygnet.core import contract
from cygnet.core.errors import BadInput, Unavailable
from cygnet.core.loopback import bindable


def parse_range(text):
    """'40000-40999' -> (40000, 40999)."""
    try:
        low, high = (int(p) for p in str(text).split("-"))
    except ValueError:
        raise BadInput(f"a port range is LOW-HIGH, like 40000-40999, not {text!r}") from None
    if not 1024 <= low <= high <= 65535:
        raise BadInput(f"port range {text!r} must lie within 1024-65535, low to high")
    return low, high


class PortLease:
    """`count` ports held until `release()` (or the process ends)."""

    def __init__(self, lock_dir, port_range, count=3, host="127.0.0.1"):
        low, high = parse_range(port_range)
        os.makedirs(lock_dir, exist_ok=True)
        self.ports, self._files = [], []
        try:
            for port in range(low, high + 1):
                if len(self.ports) == count:
                    break
                held = _try_lock(os.path.join(lock_dir, f"{port}.lock"))
                if held is None:
                    continue
                if not bindable(host, port):
                    os.close(held)
                    continue
                self.ports.append(port)
                self._files.append(held)
        except BaseException:
            self.release()
            raise
        self.note = ""
        if len(self.ports) < count:
            # Every port of the range is leased or taken, perhaps by another account squatting
            # on it: free ports outside it keep the session going (leased the same way, so the
            # session's UI route knows them), and the note says what that costs.
            taken = list(self.ports)
            try:
                while len(self.ports) < count:
                    port, held = _free_leased_port(lock_dir, host)
                    self.ports.append(port)
                    self._files.append(held)
            except BaseException:
                self.release()
                raise
            self.note = (
                f"the port range {port_range} had {len(taken)} free port(s) of {count}: using "
                f"{', '.join(map(str, self.ports[len(taken) :]))} outside it (executors on other machines "
                "reach the driver only if the site's firewall lets them)"
            )

    def release(self):
        for fd in self._files:
            try:
                os.close(fd)  # closing drops the lock
            except OSError:
                pass
        self._files, self.ports = [], []


def _try_lock(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def _free_leased_port(lock_dir, host, tries=20):
    """A port the system calls free, leased in `lock_dir` like the range's ports."""
    for _ in range(tries):
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        held = _try_lock(os.path.join(lock_dir, f"{port}.lock"))
        if held is not None and bindable(host, port):
            return port, held
        if held is not None:
            os.close(held)
    raise Unavailable(f"no free port on {host} for a driver or scheduler")


def leased_outside(port, lock_dir=None):
    """Whether a kernel of this account holds a lease on `port` (one outside the range)."""
    path = os.path.join(lock_dir or ports_dir(), f"{int(port)}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # held by a living kernel
    finally:
        os.close(fd)  # closing drops a lock this call took
    return False


def ports_dir():
    """Where port leases live: the server's choice, else under Cygnet's data directory."""
    from cygnet.core.datadir import default_data_dir

    return contract.PORTS_DIR.get() or os.path.join(default_data_dir(), "compute", "ports")


def port_range():
    """The range drivers and schedulers lease their ports from: the server's, else the default."""
    return contract.PORTS.get()
