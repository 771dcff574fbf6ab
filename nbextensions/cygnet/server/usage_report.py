"""Under a hub, the session reports what it runs beyond its own cores to the hub's usage ledger
(cygnet.hub.usage_api), every `Cygnet.usage_report_interval` seconds: Spark executors on a
cluster (the records kernels write, cygnet.compute.usage) and batch runs on a scheduler (one core
each, what Slurm and HTCondor give a job that asks for none). Runs `--on local`, local Spark and
managed Connect servers use the session's own cores, which the hub counts already.

Only what changed since the last report is sent; a report that fails is sent again next time.
Records of ended uses are removed once the hub has them. A kernel gone without ending its use
ends at the last time this server saw it alive (kept in the record, so a restarted server knows
it too); when the server stops, its kernels' uses end then, as the kernels do."""

import json
import os
import time

from cygnet.compute.usage import forget
from cygnet.core.errors import CygnetError

from .work import every

RUN_CORES = 1.0
RUN_BACKENDS_ELSEWHERE = ("slurm", "htcondor", "kubernetes")


def start(app):
    if not (os.environ.get("JUPYTERHUB_API_URL") and os.environ.get("JUPYTERHUB_API_TOKEN")):
        forget_stopped(_records(app))  # no hub to report to: records are kept no longer than their kernels
        return None
    reporter = Reporter()
    app.usage_reporter = reporter
    return every(app.cygnet.usage_report_interval, reporter.report, app)


class Reporter:
    def __init__(self):
        self.sent = {}  # ref -> (cores, ended) the hub has

    async def report(self, app):
        try:
            await app.work.quick(self.report_now, app, timeout=120)
        except CygnetError as e:
            app.log.warning("cygnet: the usage report to the hub failed (sent again next time): %s", e)

    def report_now(self, app, closing=False):
        """Send what changed (`closing`: the server stops, and its kernels' uses with it); the
        number of entries sent."""
        records = _records(app)
        counted = [(path, record) for path, record in records if record.get("counted")]
        entries = [self._cluster_entry(path, record, closing) for path, record in counted] + self._run_entries(app)
        changed = [e for e in entries if self.sent.get(e["ref"]) != (e["cores"], e["ended"])]
        if changed:
            post(changed)
            self.sent.update({e["ref"]: (e["cores"], e["ended"]) for e in changed})
        for path, record in counted:  # the hub has them: an ended use is done with
            if self.sent.get(f"{record['engine']}/{record['id']}", (None, None))[1] is not None:
                forget(path)
        # Those never reported (metrics only): once their engine stopped, of no more use.
        forget_stopped((path, record) for path, record in records if not record.get("counted"))
        return len(changed)

    def _cluster_entry(self, path, record, closing):
        from cygnet.compute.usage import alive, seen

        ended = record.get("ended")
        if ended is None:
            if alive(record) and closing:
                ended = time.time()
            elif alive(record):
                seen(path)
            else:  # its kernel died without ending it: at the last sight of it alive
                ended = record.get("seen") or record["started"]
        return {
            "ref": f"{record['engine']}/{record['id']}",
            "kind": record["engine"],
            "cores": float(record.get("cores") or 0),
            "started": record["started"],
            "ended": ended,
            "detail": f"{record['engine'].title()} on {record.get('cluster', '?')}"[:200],
        }

    def _run_entries(self, app):
        cutoff = time.time() - 30 * 24 * 3600  # older runs were reported long ago (or before this ledger)
        found = []
        for run in app.runs.store.list(app.runs.owner, limit=10_000):
            if run.backend not in RUN_BACKENDS_ELSEWHERE or not run.started or run.started < cutoff:
                continue
            found.append(
                {
                    "ref": f"run/{run.id}",
                    "kind": "run",
                    "cores": RUN_CORES,
                    "started": run.started,
                    "ended": run.ended,
                    "detail": f"{run.backend} run {run.id}",  # no file names: the hub's admins read it
                }
            )
        return found


def _records(app):
    from cygnet.compute.kernel_env import usage_dir_of
    from cygnet.compute.usage import read

    return read(usage_dir_of(app.cygnet))


def forget_stopped(records):
    """Remove those of the (path, record) pairs whose engine stopped."""
    from cygnet.compute.usage import running

    for path, record in records:
        if not running(record):
            forget(path)


async def stop(app):
    """The server stops: a last report, with its kernels' uses ended (bounded: a hub that does not
    answer does not hold the stop up, JupyterHub waits 10 s; what was not sent is reported by the next start)."""
    reporter = getattr(app, "usage_reporter", None)
    if reporter is None:
        return
    try:
        await app.work.quick(reporter.report_now, app, True, timeout=5)
    except CygnetError as e:
        app.log.warning("cygnet: the last usage report to the hub failed: %s", e)


def post(entries):
    """Send `entries` to the hub as this session (its own token); Unavailable naming the cause."""
    import requests

    from cygnet.core.errors import Unavailable

    api, user = os.environ["JUPYTERHUB_API_URL"].rstrip("/"), os.environ["JUPYTERHUB_USER"]
    server = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
    headers = {"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"}
    for start in range(0, len(entries), 500):
        body = {"server": server, "entries": entries[start : start + 500]}
        try:
            answer = requests.post(
                f"{api}/users/{user}/cygnet-usage", data=json.dumps(body), headers=headers, timeout=30
            )
        except requests.RequestException as e:
            raise Unavailable(f"the hub does not answer: {e}") from None
        if answer.status_code != 200:
            raise Unavailable(f"the hub answered {answer.status_code}: {answer.text[:300]}")
