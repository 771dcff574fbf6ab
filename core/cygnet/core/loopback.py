"""Free loopback ports for servers Cygnet starts and tells their port in advance (the hub's
API, its proxy's API, its services, a Spark master), and for kernels' ZMQ sockets.

A port from `bind(0)` comes from the system's ephemeral range, the same range every outgoing
connection draws from: on a busy machine another process can take it between our check and the
server's own bind. Ports are picked at random below that range instead, where only programs that
choose ports on purpose listen, and checked free to bind. Servers and kernels pick from two
separate parts of it, so that a kernel never takes the port a hub told its proxy (which happened
while kernels took theirs from `bind(0)`, and again when both shared one part).
"""

import random
import socket
from collections.abc import Collection

# Below this, well-known and registered services crowd; the pick stays above it.
LOWEST = 20000
# Servers pick from LOWEST up to here, kernels from here up to the ephemeral range.
KERNELS_FROM = 26000
TRIES = 200


def ephemeral_range() -> tuple[int, int]:
    """The system's ephemeral port range (Linux's ip_local_port_range), or Linux's default."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(p) for p in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """A port on `host` for a server, nothing listening on it now: outside the ephemeral range
    and the kernels' part when there is room, and not in `avoid`."""
    return _pick(host, LOWEST, KERNELS_FROM, avoid)


def kernel_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """A port on `host` for a kernel's ZMQ socket, from the kernels' part below the ephemeral
    range when there is room, and not in `avoid` (ports this process handed to kernels that
    have not bound them yet)."""
    return _pick(host, KERNELS_FROM, 65536, avoid)


def _pick(host: str, low: int, high: int, avoid: Collection[int]) -> int:
    """A free port from [low, high) cut off at the ephemeral range's start."""
    high = min(high, ephemeral_range()[0])
    if high - low >= 1000:
        for port in random.sample(range(low, high), min(TRIES, high - low)):
            if port not in avoid and bindable(host, port):
                return port
    while True:  # no room below the ephemeral range: let the system choose
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def bindable(host: str, port: int, reuse_address: bool = False) -> bool:
    """Whether a socket can bind `port` on `host` now. With `reuse_address`, as a listener with
    SO_REUSEADDR binds (ZMQ's): a port whose last connections linger in TIME_WAIT counts as free."""
    with socket.socket() as s:
        if reuse_address:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True
