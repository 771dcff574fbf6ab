"""GET /cygnet/api/kerberos: your ticket (principal, expires, renew_until, ccache; principal
null without one; available: false where this machine has no Kerberos set up).
POST {"principal"?, "password"}: authenticate (the principal defaults to you in the default
realm; the Spark clusters' delegation tokens are fetched with the new ticket); the password
goes to libkrb5 in this process and nowhere else. DELETE: destroy.
Behind Jupyter's login and XSRF like every /cygnet/api/ call."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core import kerberos
from cygnet.core.identity import current_user

from .handlers import CygnetHandler
from .kerberos_renewal import refresh_tokens


class KerberosHandler(CygnetHandler):
    def ccache(self):
        return self.extensionapp.kerberos_ccache

    @web.authenticated
    @authorized
    async def get(self):
        ticket = (await self.run_core(kerberos.status, self.ccache())).to_dict()
        self.finish_json({**ticket, "available": kerberos.available()})

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body(("principal", "password"), required=("password",))
        principal = body.get("principal") or current_user()
        ticket = await self.run_core(kerberos.kinit_password, principal, body["password"], self.ccache())
        await refresh_tokens(self.extensionapp)
        self.finish_json(ticket.to_dict())

    @web.authenticated
    @authorized
    async def delete(self):
        await self.run_core(kerberos.destroy, self.ccache())
        self.set_status(204)
        self.finish()


default_handlers = [("/cygnet/api/kerberos", KerberosHandler)]
