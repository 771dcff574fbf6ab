"""Sharing this running session with named hub users (cygnet.shares.session), under
/cygnet/api/session: who it belongs to (any user who reaches it may ask), and the owner's grants;
and when its batch job ends (/cygnet/api/session/limit)."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core import batch_job, contract
from cygnet.core.errors import CygnetError, as_http_error
from cygnet.shares.session import SessionShares, checked_users, for_this_session

from . import session_access
from .handlers import CygnetHandler

USER = r"[^/]{1,255}"


def _call(method, *args):
    shares = for_this_session()
    try:
        return method(shares, *args)
    finally:
        shares.close()


class SessionHandler(CygnetHandler):
    """GET /cygnet/api/session: {owner, you, hub, shared_with}. `shared_with` (the users the session
    is shared with) is the owner's to see: null for a co-editor, and [] away from a hub."""

    co_editors = True

    @web.authenticated
    @authorized
    async def get(self):
        model = session_access.describe(self)
        shared = None
        if not session_access.is_co_editor(self):
            shared = []
            if model["hub"]:
                try:
                    shared = [g.user for g in await self.run_core(_call, SessionShares.list)]
                except web.HTTPError:
                    shared = None  # the hub does not let this session share: say nothing
        self.finish_json({**model, "shared_with": shared})


class SessionSharesHandler(CygnetHandler):
    """GET /cygnet/api/session/shares: who this session is shared with. POST {users: [...]}: share
    it with them (they reach its files, notebooks, kernels and terminals, and run code as you)."""

    @web.authenticated
    @authorized
    async def get(self):
        grants = await self.run_core(_call, SessionShares.list)
        self.finish_json([g.to_dict() for g in grants])

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(("users",), required=("users",))
        grants = await self.run_core(_call, SessionShares.grant, body["users"])
        for grant in grants:  # a colleague who knocked before is let in now, not when the cache expires
            session_access.forget(self.serverapp, grant.user)
        self.log.info("cygnet: session shared with %s", ", ".join(body["users"]))
        self.set_status(201)
        self.finish_json([g.to_dict() for g in grants])


class SessionShareHandler(CygnetHandler):
    """DELETE /cygnet/api/session/shares/{user}: end their access; their open browser is cut off."""

    @web.authenticated
    @authorized
    async def delete(self, user):
        try:
            user = checked_users([user], "user")[0]
        except CygnetError as e:
            raise as_http_error(e) from e
        grant = await self.run_core(_call, SessionShares.revoke, user)
        closed = session_access.cut_off(self.serverapp, user)
        self.log.info("cygnet: session no longer shared with %s (%d connection(s) closed)", user, closed)
        self.finish_json({"revoked": grant.user, "closed": closed})


class SessionLimitHandler(CygnetHandler):
    """GET /cygnet/api/session/limit: when this session's batch job ends (its time limit), how long
    before JupyterLab warns, and the hub's soft-quota warning for the user's groups:
    {scheduler, job, ends, warn_before, usage_note}; nulls outside a job and without a warning."""

    co_editors = True

    @web.authenticated
    @authorized
    async def get(self):
        limit = await self.run_core(batch_job.session_end)
        note = contract.USAGE_NOTE.get() or None  # the hub's soft-quota warning, given at spawn
        self.finish_json({**limit, "warn_before": self.extensionapp.cygnet.session_end_warning, "usage_note": note})


default_handlers = [
    ("/cygnet/api/session", SessionHandler),
    ("/cygnet/api/session/limit", SessionLimitHandler),
    ("/cygnet/api/session/shares", SessionSharesHandler),
    (rf"/cygnet/api/session/shares/({USER})", SessionShareHandler),
]
