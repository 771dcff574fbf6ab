"""Keeps managed Spark Connect servers from leaking: every `Cygnet.spark_server_check_every`
seconds the sessions of kernels that died, restarted or were shut down are released on their
server, and a server no kernel has used for `spark_server_idle_timeout` seconds is stopped
(cygnet.spark.managed.ManagedServers.sweep). Every few seconds, a server whose spare session a
kernel took gets another (ManagedServers.refill_spares)."""

from cygnet.core.errors import CygnetError

from .work import every

SPARE_CHECK_EVERY = 2.0  # seconds; a look at a few records when nothing is to do


def start_sweep(app):
    return every(app.cygnet.spark_server_check_every, sweep, app), every(SPARE_CHECK_EVERY, refill, app)


async def refill(app):
    try:
        done = await app.work.quick(app.spark_servers.refill_spares, timeout=120)
    except CygnetError as e:
        app.log.warning("cygnet: a spare session for a managed Spark Connect server failed: %s", e)
        return
    for line in done:
        app.log.info("cygnet: %s", line)


async def sweep(app):
    try:
        done = await app.work.quick(app.spark_servers.sweep, app.cygnet.spark_server_idle_timeout, timeout=120)
    except CygnetError as e:
        app.log.warning("cygnet: the check of managed Spark Connect servers failed: %s", e)
        return
    for line in done:
        app.log.info("cygnet: %s", line)
