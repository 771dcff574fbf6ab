"""Keeps gateway Dask clusters from leaking: every `Cygnet.dask_sweep_interval` seconds, the
clusters whose kernel died (killed, restarted, culled) are stopped through their gateway
(cygnet.dask.records). A gateway's own idle timeout is the second line of defence."""

from cygnet.core.errors import CygnetError

from .work import every


def start_sweep(app):
    return every(app.cygnet.dask_sweep_interval, sweep, app)


async def sweep(app):
    from cygnet.dask.kernel_env import records_dir
    from cygnet.dask.records import stop_orphans

    def stop():
        return stop_orphans(records_dir(app.cygnet), log=app.log.warning)

    try:
        stopped = await app.work.quick(stop, timeout=120)
    except CygnetError as e:
        app.log.warning("cygnet: the check of gateway Dask clusters failed: %s", e)
        return
    for name in stopped:
        app.log.info("cygnet: stopped Dask cluster %s, whose kernel is gone", name)
