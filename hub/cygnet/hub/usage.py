"""The usage ledger: core-hours and GPU-hours per user and per group, of sessions and of what
runs beside them: gateway Dask clusters, Spark executors on a cluster, batch runs on a scheduler.

- Sessions: each Cygnet spawner writes a row when a session starts running (its cores, its GPUs,
  the user's groups: the hub's groups and the account's Unix groups) and closes it when the
  session stops; the row's id is kept in the spawner's state, so a hub restart in between closes
  the right row.
- Gateway Dask clusters (kinds 'dask-scheduler' and 'dask-worker'): copied from the hub's
  dask-gateway database (its own record of each scheduler's and worker's start and stop, kept
  7 days) whenever the ledger is read or a session stops, so nothing depends on the gateway
  reporting.
- Spark executors on a cluster ('spark') and batch runs on a scheduler ('run'): each session
  reports them to the hub (cygnet.hub.usage_api) with its own token, for its own user only.
  Local Spark and Dask and runs `--on local` use the session's own cores: not counted twice.

Rows from elsewhere carry a `ref` (unique), so a report sent twice is one row. Totals are
clipped to the period asked for, and what still runs counts up to now. A user in two groups
counts in both groups' totals (each group sees what its members used).

The hub keeps it in `<hub dir>/usage.sqlite` (`Spawner.usage_ledger`); admins read it at
`/hub/cygnet-usage` (HTML, `?format=json|csv`) and with `cygnet usage` on the hub's machine.
Soft quotas (`Spawner.usage_quotas`: core-hours per group per calendar month, of every kind)
warn in the form and in JupyterLab from `usage_warn_at` of the quota on; they never refuse a session.
"""

import json
import os
import sqlite3
import time
from datetime import UTC, datetime

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,           -- JSON list of group names
    kind TEXT NOT NULL,             -- one of KIND_TOTALS' keys
    server TEXT NOT NULL,           -- the named server ('' for the default one)
    cores REAL NOT NULL,
    gpus REAL NOT NULL,
    started REAL NOT NULL,
    ended REAL                      -- NULL while running
);
CREATE INDEX IF NOT EXISTS usage_started ON usage (started);
"""
# Added in a later version: ledgers made before gain them when opened.
LATER_COLUMNS = {
    "ref": "TEXT",  # what the row is elsewhere ('dask-gateway/<cluster>/<worker>', '<user>/run/<id>')
    "detail": "TEXT NOT NULL DEFAULT ''",  # the cluster, backend or run, for people reading it
}
# The totals' columns per kind (the schedulers' and workers' core-hours are Dask's together).
KIND_TOTALS = {
    "session": "session_core_hours",
    "dask-scheduler": "dask_core_hours",
    "dask-worker": "dask_core_hours",
    "spark": "spark_core_hours",
    "run": "run_core_hours",
}
GATEWAY_PREFIX = "dask-gateway/"


class UsageLedger:
    def __init__(self, path, gateway_db=None):
        """`gateway_db`: the hub's dask-gateway database, by default where `cygnet hub` keeps it
        beside the ledger (<hub dir>/dask-gateway/gateway.sqlite)."""
        self.path = str(path)
        folder = os.path.dirname(self.path) or "."
        self.gateway_db = gateway_db or os.path.join(folder, "dask-gateway", "gateway.sqlite")
        self._gateway_copied = False
        fresh = not os.path.exists(self.path)
        os.makedirs(folder, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)  # who used what is the site's to see
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # no fsync per commit on the hub's loop (cygnet.hub.hub_db)
        self.db.executescript(SCHEMA)
        have = {row[1] for row in self.db.execute("PRAGMA table_info(usage)")}
        for column, declaration in LATER_COLUMNS.items():
            if column not in have:
                try:
                    self.db.execute(f"ALTER TABLE usage ADD COLUMN {column} {declaration}")
                except sqlite3.OperationalError as e:  # another process added it just now
                    if "duplicate column" not in str(e):
                        raise
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS usage_ref ON usage (ref)")

    def close(self):
        self.db.close()

    def opened(self, user, groups, cores, gpus=0.0, server="", kind="session", at=None):
        """A session of `user` started running now (or `at`): its row's id."""
        cursor = self.db.execute(
            "INSERT INTO usage (user, groups, kind, server, cores, gpus, started) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user, json.dumps(sorted(set(groups))), kind, server, float(cores), float(gpus), at or time.time()),
        )
        return cursor.lastrowid

    def ended(self, entry_id, at=None):
        """The row's session stopped (a second call changes nothing)."""
        self.db.execute("UPDATE usage SET ended = ? WHERE id = ? AND ended IS NULL", (at or time.time(), entry_id))
        self.copy_gateway()

    def record(self, ref, user, groups, kind, cores, started, ended=None, gpus=0.0, server="", detail=""):
        """Something that ran elsewhere, known by `ref`: added, or brought up to date (its end,
        its size) when a report of it comes again."""
        self.db.execute(
            "INSERT INTO usage (ref, user, groups, kind, server, cores, gpus, started, ended, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO UPDATE SET "
            "cores = excluded.cores, gpus = excluded.gpus, ended = excluded.ended, detail = excluded.detail",
            (
                ref,
                user,
                json.dumps(sorted(set(groups))),
                kind,
                server,
                float(cores),
                float(gpus),
                started,
                ended,
                detail,
            ),
        )

    def groups_of(self, user):
        """The groups `user` had at their latest session (the hub's and their account's), else
        their account's Unix groups: for usage reported without them."""
        row = self.db.execute(
            "SELECT groups FROM usage WHERE user = ? AND kind = 'session' ORDER BY started DESC LIMIT 1", (user,)
        ).fetchone()
        return json.loads(row[0]) if row else sorted(unix_groups(user))

    def copy_gateway(self):
        """Bring the gateway Dask clusters' rows up to date from the gateway's database (once per
        ledger opened). Rows still open for clusters the gateway no longer knows (a gateway
        without its database) end now."""
        if self._gateway_copied or not os.path.isfile(self.gateway_db):
            return
        self._gateway_copied = True
        try:
            found = gateway_usage(self.gateway_db)
        except sqlite3.Error:  # the gateway's own schema moved on: say nothing wrong, copy nothing
            return
        known = {
            ref: (ended, cores)
            for ref, ended, cores in self.db.execute(
                "SELECT ref, ended, cores FROM usage WHERE ref LIKE ?", (GATEWAY_PREFIX + "%",)
            )
        }
        groups = {}
        self.db.execute("BEGIN")
        try:
            for entry in found:
                if known.get(entry["ref"]) == (entry["ended"], entry["cores"]):
                    continue  # unchanged since the last copy
                if entry["user"] not in groups:
                    groups[entry["user"]] = self.groups_of(entry["user"])
                self.record(groups=groups[entry["user"]], **entry)
            present = {entry["ref"] for entry in found}
            for ref, (ended, _) in known.items():
                if ended is None and ref not in present:
                    self.db.execute("UPDATE usage SET ended = ? WHERE ref = ?", (time.time(), ref))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def rows(self, since=0.0, until=None, user=None, group=None):
        """What ran within [since, until), each with its core-hours and GPU-hours inside that
        period (what still runs up to now)."""
        self.copy_gateway()
        until = until or time.time()
        found = []
        query = (
            "SELECT id, user, groups, kind, server, cores, gpus, started, ended, detail FROM usage WHERE started < ?"
        )
        for row in self.db.execute(query + " AND (ended IS NULL OR ended > ?)", (until, since)):
            entry_id, who, groups, kind, server, cores, gpus, started, ended, detail = row
            groups = json.loads(groups)
            if (user and who != user) or (group and group not in groups):
                continue
            hours = max(0.0, min(ended or time.time(), until) - max(started, since)) / 3600
            found.append(
                {
                    "id": entry_id,
                    "user": who,
                    "groups": groups,
                    "kind": kind,
                    "server": server,
                    "detail": detail,
                    "cores": cores,
                    "gpus": gpus,
                    "started": started,
                    "ended": ended,
                    "core_hours": round(cores * hours, 6),
                    "gpu_hours": round(gpus * hours, 6),
                }
            )
        return found

    def totals(self, by="group", since=0.0, until=None, user=None, group=None):
        """[{name, core_hours, gpu_hours, sessions, <kind>_core_hours...}] per user or per group,
        largest first: core_hours counts every kind, and each kind's share has its column."""
        sums = {}
        for row in self.rows(since, until, user=user, group=group):
            names = [row["user"]] if by == "user" else (row["groups"] or [""])
            if by == "group" and group:
                names = [group]
            for name in names:
                total = sums.get(name)
                if total is None:
                    total = sums[name] = {"name": name, "core_hours": 0.0, "gpu_hours": 0.0, "sessions": 0}
                    total.update(dict.fromkeys(KIND_TOTALS.values(), 0.0))
                total["core_hours"] += row["core_hours"]
                total["gpu_hours"] += row["gpu_hours"]
                total[KIND_TOTALS.get(row["kind"], "session_core_hours")] += row["core_hours"]
                total["sessions"] += row["kind"] == "session"
        return sorted(sums.values(), key=lambda t: (-t["core_hours"], t["name"]))


def unix_groups(user):
    """The names of the Unix groups of the account `user` (none without such an account)."""
    import grp
    import pwd

    try:
        account = pwd.getpwnam(user)
        return {grp.getgrgid(gid).gr_name for gid in os.getgrouplist(user, account.pw_gid)}
    except (KeyError, OSError):
        return set()


def gateway_usage(path):
    """The schedulers and workers in dask-gateway's database (its `clusters` and `workers`
    tables; times in milliseconds) as ledger entries."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        clusters = {}
        entries = []
        for cluster_id, name, user, config, started, stopped in db.execute(
            "SELECT id, name, username, config, start_time, stop_time FROM clusters"
        ):
            config = json.loads(config) if isinstance(config, (bytes, str)) else {}  # the gateway stores bytes
            clusters[cluster_id] = (name, user, config)
            entries.append(
                _gateway_entry(
                    f"{name}/scheduler", user, "dask-scheduler", config.get("scheduler_cores"), name, started, stopped
                )
            )
        for cluster_id, worker, started, stopped in db.execute(
            "SELECT cluster_id, name, start_time, stop_time FROM workers"
        ):
            if cluster_id in clusters:
                name, user, config = clusters[cluster_id]
                entries.append(
                    _gateway_entry(
                        f"{name}/{worker}", user, "dask-worker", config.get("worker_cores"), name, started, stopped
                    )
                )
        return entries
    finally:
        db.close()


def _gateway_entry(ref, user, kind, cores, cluster, started, stopped):
    return {
        "ref": GATEWAY_PREFIX + ref,
        "user": user,
        "kind": kind,
        "cores": float(cores or 1),
        "started": started / 1000,
        "ended": stopped / 1000 if stopped else None,
        "detail": f"dask-gateway cluster {cluster}",
    }


def month_start(now=None):
    """The start of the current calendar month (UTC), seconds since the epoch."""
    moment = datetime.fromtimestamp(now or time.time(), UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def quota_notes(ledger, groups, quotas, warn_at=0.8, now=None):
    """What to tell a member of `groups` about their groups' soft quotas (core-hours this month):
    a sentence per group at or over `warn_at` of its quota."""
    notes = []
    since = month_start(now)
    for group in sorted(set(groups) & set(quotas)):
        quota = float(quotas[group])
        used = sum(t["core_hours"] for t in ledger.totals("group", since, now, group=group))
        if quota > 0 and used >= warn_at * quota:
            state = "has used up" if used >= quota else "has used"
            notes.append(
                f"Your group {group} {state} {used:.0f} of its {quota:.0f} core-hours this month "
                f"({100 * used / quota:.0f}%)."
            )
    return notes


def as_csv(rows, fields):
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in row.items()})
    return out.getvalue()
