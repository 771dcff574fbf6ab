"""The usage ledger: core-hours and GPU-hours of sessions, per user and per group.

Each Cygnet spawner writes a row when a session starts running (its cores, its GPUs, the user's
groups: the hub's groups and the account's Unix groups) and closes it when the session stops;
the row's id is kept in the spawner's state, so a hub restart in between closes the right row.
Totals are clipped to the period asked for, and a session still running counts up to now.
A user in two groups counts in both groups' totals (each group sees what its members used).

The hub keeps it in `<hub dir>/usage.sqlite` (`Spawner.usage_ledger`); admins read it at
`/hub/cygnet-usage` (HTML, `?format=json|csv`) and with `cygnet usage` on the hub's machine.
Soft quotas (`Spawner.usage_quotas`: core-hours per group per calendar month) warn in the form
and in JupyterLab from `usage_warn_at` of the quota on; they never refuse a session.
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
    kind TEXT NOT NULL,             -- 'session'
    server TEXT NOT NULL,           -- the named server ('' for the default one)
    cores REAL NOT NULL,
    gpus REAL NOT NULL,
    started REAL NOT NULL,
    ended REAL                      -- NULL while running
);
CREATE INDEX IF NOT EXISTS usage_started ON usage (started);
"""


class UsageLedger:
    def __init__(self, path):
        self.path = str(path)
        fresh = not os.path.exists(self.path)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)  # who used what is the site's to see
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

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

    def rows(self, since=0.0, until=None, user=None, group=None):
        """The sessions that ran within [since, until), each with its core-hours and GPU-hours
        inside that period (a running one up to now)."""
        until = until or time.time()
        found = []
        query = "SELECT id, user, groups, kind, server, cores, gpus, started, ended FROM usage WHERE started < ?"
        for row in self.db.execute(query + " AND (ended IS NULL OR ended > ?)", (until, since)):
            entry_id, who, groups, kind, server, cores, gpus, started, ended = row
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
        """[{name, core_hours, gpu_hours, sessions}] per user or per group, largest first."""
        sums = {}
        for row in self.rows(since, until, user=user, group=group):
            names = [row["user"]] if by == "user" else (row["groups"] or [""])
            if by == "group" and group:
                names = [group]
            for name in names:
                total = sums.setdefault(name, {"name": name, "core_hours": 0.0, "gpu_hours": 0.0, "sessions": 0})
                total["core_hours"] += row["core_hours"]
                total["gpu_hours"] += row["gpu_hours"]
                total["sessions"] += 1
        return sorted(sums.values(), key=lambda t: (-t["core_hours"], t["name"]))


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
