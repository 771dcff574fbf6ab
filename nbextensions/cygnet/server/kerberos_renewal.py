"""Keeps the user's Kerberos ticket alive while the session runs: every
`Cygnet.kerberos_renew_every` seconds, a ticket with less than `kerberos_renew_before` seconds
left and still renewable is renewed (kinit -R), so a long analysis never finds itself without
credentials. A ticket that can no longer be renewed is left to expire (the user logs in again).
Each new or renewed ticket also refreshes the Spark clusters' delegation tokens (.spark.tokens)."""

import time

from cygnet.core import kerberos
from cygnet.core.errors import CygnetError
from cygnet.spark import tokens

from .work import every


def start_renewal(app):
    """A periodic check on the server's loop; None when the site turned it off."""
    return every(app.cygnet.kerberos_renew_every, renew_if_due, app)


async def renew_if_due(app):
    config = app.cygnet
    ccache = app.kerberos_ccache
    try:
        ticket = await app.work.quick(kerberos.status, ccache)
        now = time.time()
        if not ticket.principal or ticket.expires is None or ticket.expires - now > config.kerberos_renew_before:
            return
        if not ticket.renew_until or ticket.renew_until <= now:
            return
        renewed = await app.work.quick(kerberos.renew, ccache)
        app.log.info("cygnet: renewed the Kerberos ticket of %s", renewed.principal)
    except CygnetError as e:
        app.log.warning("cygnet: the Kerberos ticket was not renewed: %s", e)
        return
    await refresh_tokens(app)


async def refresh_tokens(app):
    """Fetch the delegation tokens of every cluster with a token service, with the ticket."""
    folder = tokens.tokens_dir(app.cygnet.data_dir)
    try:
        outcome = await app.work.quick(lambda: tokens.refresh(app.catalogue(), folder))
    except CygnetError as e:
        app.log.warning("cygnet: no delegation tokens: %s", e)
        return
    for cluster, error in outcome.items():
        if error:
            app.log.warning("cygnet: no delegation tokens for %s: %s", cluster, error)
        else:
            app.log.info("cygnet: fetched the delegation tokens for %s", cluster)
