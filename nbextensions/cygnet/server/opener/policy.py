"""What a link from a stranger may make the service do: which remotes and downloads are
allowed, and where in the workspace things may land."""

import ipaddress
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from cygnet.core.errors import BadInput, Unavailable
from cygnet.core.paths import confine, free_name  # noqa: F401 - the opener's rules for paths

# scp-like ssh remotes: user@host:path
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!//)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22}


@dataclass(frozen=True)
class OpenPolicy:
    schemes: tuple = ("https", "http", "git")  # of remotes; downloads allow http(s) only
    hosts: tuple = ()  # allowed hosts ("host" or "host:port"); empty: any public host
    # Hosts ("host", "host:port") or networks ("10.1.0.0/16") links may reach although they are
    # loopback, private or link-local addresses; by default none: a stranger's link must not
    # turn the service into a probe of the site's own network.
    internal: tuple = ()

    def check_remote(self, url):
        """`url` if a clone from it is allowed, else BadInput saying why."""
        url = _check_text(url, "repository URL")
        scp = _SCP_LIKE.match(url)
        if scp:
            return self._check(url, "ssh", scp.group(1), None)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if "file" not in self.schemes:
                raise BadInput("file:// repositories are not enabled on this site")
            if not parts.path.startswith("/"):
                raise BadInput(f"a file:// URL needs an absolute path: {url!r}")
            return url
        return self._check(url, scheme, parts.hostname, _port(parts))

    def check_download(self, url):
        """`url` if downloading it is allowed (http and https only)."""
        url = _check_text(url, "download URL")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise BadInput(f"only http:// and https:// downloads are allowed, not {url!r}")
        return self._check(url, parts.scheme.lower(), parts.hostname, _port(parts), schemes=("http", "https"))

    def _check(self, url, scheme, host, port, schemes=None):
        allowed = schemes or self.schemes
        if scheme not in allowed:
            raise BadInput(
                f"{scheme or 'this kind of'} URL not allowed: {url!r} "
                f"(allowed: {', '.join(s + '://' for s in allowed)})"
            )
        if not host:
            raise BadInput(f"no host in {url!r}")
        host = host.lower()
        if self.hosts and host not in self.hosts and f"{host}:{port}" not in self.hosts:
            raise BadInput(f"host {host} is not on this site's list of allowed hosts")
        self.address_of(url, host, port)
        return url

    def address_of(self, url, host, port):
        """The address `host` resolves to, checked: every address it has must be public, or
        the host or address explicitly allowed as internal. Checked again for each redirect,
        and the clone is pinned to the address checked (no second lookup to rebind)."""
        try:
            infos = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise Unavailable(f"could not fetch {url}") from None
        addresses = sorted({info[4][0] for info in infos})
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            address = getattr(address, "ipv4_mapped", None) or address
            if _public(address) or self._internal(host, address, port):
                continue
            raise BadInput(
                f"links may not reach {host}"
                + (f" port {port}" if port else "")
                + ": it is a loopback, private or link-local address "
                "(a site admin can allow internal hosts with c.Cygnet.open_internal_hosts)"
            )
        return addresses[0]

    def _internal(self, host, address, port):
        """Whether an internal entry allows `host` (by name) or `address` (by network) on `port`:
        an entry with a port allows only that port, one without allows all of the host's ports."""
        for entry in self.internal:
            name, entry_port = _split_port(entry)
            if entry_port is not None and entry_port != port:
                continue
            if name == host:
                return True
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass  # a host name, matched by name
        return False


def _split_port(entry):
    """'host:9418' -> ('host', 9418); '[::1]:22' -> ('::1', 22); '10.0.0.0/8', '::1' -> (entry, None)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


def _public(address):
    return address.is_global and not address.is_multicast


def _port(parts):
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError as e:
        raise BadInput(f"bad port in {parts.geturl()!r}") from e


def _check_text(value, what):
    if not value or not isinstance(value, str):
        raise BadInput(f"a {what} is required")
    value = value.strip()
    # A leading '-' could be read as an option by git or curl; control characters and spaces
    # have no place in a URL we pass on.
    if value.startswith("-") or any(c.isspace() or ord(c) < 32 for c in value):
        raise BadInput(f"not a valid {what}: {value!r}")
    return value


def repo_folder_name(url):
    """The folder a repository is cloned into by default: the last part of its URL, less .git."""
    path = _SCP_LIKE.sub("", url) if _SCP_LIKE.match(url) else urlsplit(url).path
    name = PurePosixPath(path.rstrip("/")).name
    name = name[:-4] if name.endswith(".git") else name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    if not name:
        raise BadInput(f"cannot name a folder after {url!r}; give a target")
    return name


def sweep_stale(paths, timeout):
    """Remove what a crashed clone or download left behind (staging folders, partial files):
    older than the time limit, it cannot still be running."""
    for path in paths:
        try:
            if time.time() - path.lstat().st_mtime <= timeout:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            pass  # gone already, or not ours to remove
