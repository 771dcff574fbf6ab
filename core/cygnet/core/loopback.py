"""Free loopback ports for servers Cygnet starts and tells their port in advance (the hub's
API, its proxy's API, its services, a Spark master) and for kernels' ZMQ sockets.

A port from `bind(0)` comes from the system's ephemeral range, the same range every kernel's
ZMQ sockets and every outgoing connection draw from: on a busy machine another process can take
it between our check and the server's own bind (a hub's proxy once found a kernel's ZMQ socket
on its API port). Ports are picked at random below that range instead, where only programs
that choose ports on purpose listen, and checked free to bind."""

import random
import socket
from collections.abc import Collection

# Below this, well-known and registered services crowd; the pick stays above it.
LOWEST = 20000
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
    """A port on `host` nothing listens on now, outside the ephemeral range when there is room,
    and not in `avoid` (ports this process handed out that are not bound yet)."""
    low, _ = ephemeral_range()
    if low - LOWEST >= 1000:
        for port in random.sample(range(LOWEST, low), min(TRIES, low - LOWEST)):
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
