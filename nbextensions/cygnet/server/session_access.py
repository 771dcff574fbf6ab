"""Who may use what in a session its owner shared (cygnet.shares.session).

A colleague the session is shared with opens its notebooks, files, kernels and terminals (that is
the point: they run code as the owner, and the Share session dialog says so). Cygnet's own
features that act with the owner's credentials or on the owner's records (link shares, session
shares, box sync, Kerberos, batch runs and schedules, open-by-link, managed Spark servers) stay
the owner's: their routes answer a co-editor 403, with the reason. A handler open to co-editors
says so with `co_editors = True`.

On a revoke, the colleague is cut off at once: the hub's answer about them, which the server
caches for minutes (HubAuth.cache_max_age), is forgotten, and their open websockets (kernels,
documents, terminals) are closed, so the browser's reconnect meets the hub's new answer. A
revoke made outside Cygnet (the hub's own API or page) is caught by `recheck`, which asks the
hub again about every colleague's open websocket every Cygnet.session_recheck_interval
seconds."""

from __future__ import annotations

import os
import weakref

from tornado import web
from tornado.websocket import WebSocketHandler

from cygnet.core.identity import current_user

from .work import every

# Open websockets by the hub user behind them; a closed one leaves by itself.
_open_sockets: dict[str, weakref.WeakSet] = {}


def owner() -> str | None:
    """The session's owner under a hub, else None (a single-user service has no co-editors)."""
    return os.environ.get("JUPYTERHUB_USER") or None


def user_name(handler) -> str | None:
    user = handler.current_user
    return getattr(user, "username", None) or getattr(user, "name", None)


def is_co_editor(handler) -> bool:
    """True when a hub user other than the owner makes this request (one it was shared with).
    Only the hub's login names co-editors: a server that merely carries $JUPYTERHUB_USER (to name
    its user's EOS home, say) with a token login has none."""
    user = handler.current_user
    name = user_name(handler)
    return bool(owner() and getattr(user, "hub_user", None) and name and name != owner())


def check_owner(handler, feature="this"):
    if is_co_editor(handler):
        raise web.HTTPError(
            403,
            f"only {owner()}, whose session this is, can use {feature}; it is shared with you for its "
            "notebooks, files and kernels",
        )


def describe(handler) -> dict:
    """Whose session this is and who asks: what the front end shows (status bar, Share session)."""
    you = user_name(handler) or current_user()
    hub = bool(owner() and getattr(handler.current_user, "hub_user", None))  # logged in through the hub
    return {"owner": owner() if hub else you, "you": you, "hub": hub}


# --- cutting a revoked colleague off -------------------------------------------------------------
def forget(serverapp, user: str) -> None:
    """Forget the hub's cached answers about `user` (their scopes as they were), so their next
    request is judged by the hub's answer now: after a grant as after a revoke."""
    hub_auth = getattr(getattr(serverapp, "identity_provider", None), "hub_auth", None)
    cache = getattr(hub_auth, "cache", None)
    values = getattr(cache, "values", None)  # jupyterhub.services.auth._ExpiringDict keeps them here
    if isinstance(values, dict):
        for key, model in list(values.items()):
            if isinstance(model, dict) and model.get("name") == user:
                cache.pop(key, None)


def cut_off(serverapp, user: str) -> int:
    """Forget what the hub said about `user` and close their websockets; how many closed."""
    forget(serverapp, user)
    sockets = list(_open_sockets.get(user, ()))
    for socket in sockets:
        socket.close(code=4403, reason="this session is no longer shared with you")
    return len(sockets)


async def recheck(serverapp) -> int:
    """Close the websockets of colleagues the hub no longer lets into this session, however the
    share ended (the hub's own API or page, an admin, a deleted user); how many closed. A hub that
    does not answer is not a revoke: those sockets stay until it answers."""
    hub_auth = getattr(getattr(serverapp, "identity_provider", None), "hub_auth", None)
    if hub_auth is None:
        return 0
    allowed: dict[str, bool] = {}  # one question to the hub per token, however many sockets
    closed = 0
    for user, sockets in list(_open_sockets.items()):
        for socket in list(sockets):
            token = hub_auth.get_token(socket)
            if token not in allowed:
                try:
                    model = await hub_auth.user_for_token(token, use_cache=False, sync=False) if token else None
                except Exception:  # noqa: BLE001 (the hub down or slow: ask again next round)
                    continue
                allowed[token] = bool(model and hub_auth.check_scopes(hub_auth.access_scopes, model))
            if not allowed[token]:
                forget(serverapp, user)
                socket.close(code=4403, reason="this session is no longer shared with you")
                closed += 1
    return closed


def start_rechecks(serverapp, seconds: float):
    """Run `recheck` every `seconds` (none if 0), one round at a time."""

    async def round_():
        if not any(_open_sockets.values()):
            return
        closed = await recheck(serverapp)
        if closed:
            serverapp.log.info("cygnet: closed %d websockets of colleagues whose share ended", closed)

    return every(seconds, round_)


def track_websockets(web_app):
    """Make every websocket route of the server (kernels, documents, terminals, events) record
    who opened it, so `cut_off` can find them. Run once every extension has added its routes."""
    seen: dict[type, type] = {}

    def walk(router):
        for rule in getattr(router, "rules", ()):
            target = rule.target
            if isinstance(target, type) and issubclass(target, WebSocketHandler):
                if not issubclass(target, _Tracked):
                    seen.setdefault(target, type(target.__name__, (_Tracked, target), {}))
                    rule.target = seen[target]
            else:
                walk(target)

    walk(web_app.default_router)
    walk(web_app.wildcard_router)
    return len(seen)


class _Tracked:
    """Mixed in before a websocket handler: records the open socket under its user."""

    def open(self, *args, **kwargs):
        name = user_name(self)
        if name and name != owner():
            _open_sockets.setdefault(name, weakref.WeakSet()).add(self)
        return super().open(*args, **kwargs)
