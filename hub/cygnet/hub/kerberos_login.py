"""Log in to the hub with a Kerberos password, and hand the ticket to the session.

`KerberosPasswordAuthenticator` checks the user name and password against the site's KDC with
MIT's libkrb5 in the hub's process (cygnet.core.kerberos: the password goes nowhere else). The
ticket it gets is kept in the hub's encrypted auth state (`Authenticator.enable_auth_state`,
JUPYTERHUB_CRYPT_KEY); its throw-away cache is deleted at once. Cygnet's spawners pass it to
each new session, whose server installs it as the user's own credential cache and renews it;
so nobody is asked for their password twice.

    c.JupyterHub.authenticator_class = "cygnet-kerberos"
    c.Authenticator.enable_auth_state = True   # and JUPYTERHUB_CRYPT_KEY in the hub's environment
    c.Authenticator.allow_all = True           # or allowed_users / an allowed group

The ticket reaches the session as $CYGNET_KERBEROS_TICKET in its start environment (the server
reads it, writes the cache and removes it before any kernel starts): for a local process that
is as private as the process; in Kubernetes it sits in the pod's spec, which only the
namespace's administrators read."""

import asyncio
import base64
import os
import tempfile

from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Bool, Unicode

from cygnet.core import kerberos
from cygnet.core.errors import BadInput, Expired, NotFound, Unavailable


class KerberosPasswordAuthenticator(Authenticator):
    realm = Unicode(
        "", help="The realm user names belong to; empty: the default realm of the Kerberos configuration."
    ).tag(config=True)
    hand_ticket_to_session = Bool(
        True, help="Pass the login's ticket to the user's sessions (needs enable_auth_state and JUPYTERHUB_CRYPT_KEY)."
    ).tag(config=True)

    async def authenticate(self, handler, data):
        name = self.normalize_username((data or {}).get("username", ""))
        password = (data or {}).get("password", "")
        if not name or not password or "@" in name or "/" in name:
            return None
        principal = f"{name}@{self.realm}" if self.realm else name
        try:
            ticket, cache = await asyncio.to_thread(_kinit, principal, password)
        except (BadInput, NotFound, Expired) as e:  # wrong password, unknown user: the usual refusal
            self.log.warning("cygnet: Kerberos login of %s refused: %s", name, e)
            return None
        except Unavailable as e:  # the KDC or the clock: say so, it is not the user's fault
            self.log.error("cygnet: Kerberos login of %s failed: %s", name, e)
            raise web.HTTPError(503, f"Kerberos login is unavailable: {e}") from None
        self.log.info("cygnet: %s logged in with Kerberos as %s", name, ticket.principal)
        user = {"name": name}
        if self.hand_ticket_to_session:
            if not self.enable_auth_state:
                self.log.warning("cygnet: tickets are not passed to sessions: set Authenticator.enable_auth_state")
            user["auth_state"] = {"kerberos_principal": ticket.principal, "kerberos_ccache": cache}
        return user


def _kinit(principal, password):
    """A ticket in a throw-away cache; returns (ticket, the cache's bytes in base64)."""
    with tempfile.TemporaryDirectory(prefix="cygnet-login-") as folder:
        path = os.path.join(folder, "krb5cc")
        ticket = kerberos.kinit_password(principal, password, "FILE:" + path)
        with open(path, "rb") as f:
            return ticket, base64.b64encode(f.read()).decode()
