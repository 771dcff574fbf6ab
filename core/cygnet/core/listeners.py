"""Who owns a listening port on this machine, from /proc/net/tcp and tcp6 (the same table
any user can read). A session's routes to its own servers (the Spark UI, the Dask dashboard)
only send the session's credentials to a listener of the session's own account, never to a
port another user took inside the session's range."""

import os

LISTEN = "0A"


def listener_uids(port: int) -> set[int]:
    """The uids of the sockets listening on TCP `port` (any address, IPv4 and IPv6); empty if
    none listens or this system has no /proc/net/tcp."""
    uids: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == int(port):
                uids.add(int(fields[7]))
    return uids


def owned_by_me(port: int) -> bool:
    """True if something listens on `port` and every listener there is this account's."""
    return listener_uids(port) == {os.getuid()}
