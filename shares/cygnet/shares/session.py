"""Sharing a running session with named colleagues: JupyterHub 5's *shares* of this server.

A grant gives a hub user `access:servers` to this one server (not the owner's other servers, not
the hub API): they open it in their browser, see its files and kernels, and co-edit with the
owner. The calls are made with the session's own hub token ($JUPYTERHUB_API_TOKEN), which the hub
gives `shares!user` and `read:users:name` when the site lets users share (`CygnetHub.session_sharing`).
Whoever may grant is decided by the caller (the REST layer lets only the owner through)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from urllib.parse import quote

import requests

from cygnet.core import checks
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable

# JupyterHub's own rule for names in its URLs is loose; this keeps control characters, slashes
# and whitespace out before a name reaches a URL path.
_USER_NAME = re.compile(r"^[^\s/\\?#%\x00-\x1f\x7f]{1,255}$")
MAX_USERS = 100  # names in one grant


class Conflict(CygnetError):
    """The thing is already so: a session already shared with that user."""

    http_status = 409
    exit_code = 2


@dataclass
class Grant:
    user: str
    created: str  # ISO time, as the hub gives it

    def to_dict(self):
        return asdict(self)


class SessionShares:
    """The shares of one server (`owner`/`server_name`) through the hub's REST API."""

    def __init__(self, api_url, token, owner, server_name="", timeout=20):
        if not (api_url and token and owner):
            raise Unavailable("sharing a session needs JupyterHub: this session was not started by a hub")
        self.owner, self.server_name, self.timeout = owner, server_name, timeout
        self.url = f"{api_url.rstrip('/')}/shares/{quote(owner, safe='')}/{quote(server_name, safe='')}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.http.trust_env = False  # the hub's API is the session's neighbour, never behind a proxy

    def list(self) -> list[Grant]:
        data = self._call("GET", params={"limit": 1000})
        items = data.get("items", []) if isinstance(data, dict) else data
        return sorted(
            (Grant(item["user"]["name"], item.get("created_at") or "") for item in items if item.get("user")),
            key=lambda g: g.user,
        )

    def grant(self, users) -> list[Grant]:
        """Share with each of `users` (all checked before any is granted); the shares afterwards."""
        wanted = checked_users(users, "users")
        if self.owner in wanted:
            raise BadInput("you cannot share your session with yourself")
        already = sorted(set(wanted) & {g.user for g in self.list()})
        if already:
            raise Conflict(f"this session is already shared with {', '.join(already)}")
        for user in wanted:
            self._call("POST", json={"user": user})
        return self.list()

    def revoke(self, user) -> Grant:
        """End `user`'s access (404 if they had none); the share that ended."""
        user = checked_users([user], "user")[0]
        grant = next((g for g in self.list() if g.user == user), None)
        if grant is None:
            raise NotFound(f"this session is not shared with {user}")
        self._call("PATCH", json={"user": user})  # no scopes: every scope of the share goes
        return grant

    def close(self):
        self.http.close()

    def _call(self, method, params=None, json=None):
        try:
            r = self.http.request(method, self.url, params=params, json=json, timeout=self.timeout)
        except requests.RequestException as e:
            raise Unavailable(f"the hub did not answer ({type(e).__name__})") from None
        if r.status_code == 403:
            raise Unavailable(
                "the hub does not let this session share itself (the site turned session sharing off:"
                " CygnetHub.session_sharing)"
            )
        if r.status_code == 400 and "No such user" in r.text:
            raise NotFound(
                f"no user {json and json.get('user')!r} on this hub (a user exists once they have logged in)"
            )
        if r.status_code == 404:
            raise NotFound("the hub does not know this session's server")
        if r.status_code >= 400:
            raise Unavailable(f"the hub refused ({r.status_code}): {_hub_message(r)}")
        return r.json() if r.content else None


def for_this_session() -> SessionShares:
    """The shares of the server this process belongs to (a hub-started session's environment)."""
    return SessionShares(
        os.environ.get("JUPYTERHUB_API_URL", ""),
        os.environ.get("JUPYTERHUB_API_TOKEN", ""),
        os.environ.get("JUPYTERHUB_USER", ""),
        os.environ.get("JUPYTERHUB_SERVER_NAME", ""),
    )


def checked_users(users, field) -> list[str]:
    names = checks.names(users, field, max_items=MAX_USERS)
    if not names:
        raise BadInput(f"{field} must name at least one user")
    for name in names:
        if not _USER_NAME.match(name):
            raise BadInput(f"{name[:80]!r} is not a user name")
    return list(dict.fromkeys(names))  # in order, each once


def _hub_message(response) -> str:
    try:
        return str(response.json().get("message", ""))[:300]
    except ValueError:
        return response.text[:300]
