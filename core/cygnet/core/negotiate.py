"""HTTP Negotiate (SPNEGO) with the user's Kerberos ticket, for the services around Cygnet:
token services, Negotiate WebDAV boxes. The ticket comes from $KRB5CCNAME (the session's own
cache, see cygnet.core.kerberos).

Two clients, one per HTTP library in use, each kept for the life of what it serves so the
handshake happens once and the server's auth cookie (Hadoop's `hadoop.auth`, most SSO
gateways) carries the rest:
- `session()`: a `requests` session with requests-kerberos, for token services;
- `HttpxNegotiate`: an httpx auth for webdav4 (which is built on httpx), on pyspnego, the
  library requests-kerberos itself uses."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import kerberos
from .atomic import atomic_write
from .errors import BadInput, Unavailable

TIMEOUT = 30.0  # seconds for a token service's answer


def session() -> Any:
    """A requests session that answers a Negotiate challenge with the user's ticket."""
    import requests
    from requests_kerberos import OPTIONAL, HTTPKerberosAuth

    http = requests.Session()
    # OPTIONAL: many services (Hadoop's among them) send no mutual-authentication token back.
    http.auth = HTTPKerberosAuth(mutual_authentication=OPTIONAL)
    return http


def fetch(url: str, http: Any = None) -> bytes:
    """GET `url` with Negotiate: the body, or an error naming the cause (no ticket, a ticket the
    service refused, a service that is down)."""
    import requests
    from requests_kerberos.exceptions import KerberosExchangeError

    check_url(url)
    http = http or session()
    try:
        answer = http.get(url, timeout=TIMEOUT)
    except KerberosExchangeError:
        raise kerberos.refused(url) from None
    except requests.RequestException as e:
        raise Unavailable(f"{url} cannot be reached: {type(e).__name__}") from e
    if answer.status_code == 401:
        raise kerberos.refused(url)
    if answer.status_code != 200:
        raise Unavailable(f"{url} answered {answer.status_code} {answer.reason}")
    return answer.content


def save_token(url: str, path: str, http: Any = None) -> str:
    """Fetch a delegation token from the token service at `url` into `path` (0600, replaced
    atomically so a reader never sees half a token); returns `path`."""
    data = fetch(url, http)
    if not data:
        raise Unavailable(f"{url} sent an empty token")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic_write(path, data, mode=stat.S_IRUSR | stat.S_IWUSR)
    return path


def check_url(url: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise BadInput(f"a Kerberos HTTP service is an http(s) URL without credentials in it, not {url!r}")
    return url


class HttpxNegotiate(httpx.Auth):
    """Answers one Negotiate challenge per request that gets one; an httpx.Client keeps the
    connection and the cookie the server sets after it, so a box negotiates once."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        offered = response.headers.get("www-authenticate", "")
        if response.status_code != 401 or "negotiate" not in offered.lower():
            return
        import spnego
        from spnego.exceptions import SpnegoError

        try:
            context = spnego.client(hostname=request.url.host, service="HTTP", protocol="kerberos")
            token = context.step()
        except SpnegoError:
            raise kerberos.refused(f"{request.url.scheme}://{request.url.netloc.decode()}") from None
        request.headers["Authorization"] = "Negotiate " + base64.b64encode(token or b"").decode()
        yield request
