"""Telling a run's owner it ended: by email (the site's SMTP server) and by webhook (an HTTP POST
of JSON, signed with HMAC-SHA256 in `X-Cygnet-Signature: sha256=<hex>`, as GitHub's webhooks are).

A run asks with `notify`: {"on": "failed" | "ended" | "never", "email": ADDRESS, "webhook": URL}.
When it ends, one notification per channel is put in an outbox (a table beside the runs) and
delivered from there by `deliver`, retried with back-off when the server or the hook is down, and
recorded as failed with the last error when it never got through: never lost silently, and never
in the run's way (the run has ended before anything is sent)."""

import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage

from cygnet.core import contract
from cygnet.core.errors import BadInput, CygnetError

from .store import Database

LOG = logging.getLogger("cygnet.runs")

WHEN = ("failed", "ended", "never")
BACKOFF = (10, 30, 120, 600, 1800)  # seconds before each retry; then the notification has failed
SEND_TIMEOUT = 15
EMAIL = re.compile(r"^[^@\s<>,;\"']+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$|^[^@\s<>,;\"']+@localhost$")
SIGNATURE_HEADER = "X-Cygnet-Signature"

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    run TEXT NOT NULL,
    channel TEXT NOT NULL,        -- email, webhook
    target TEXT NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    state TEXT NOT NULL,          -- pending, sent, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    sent REAL,
    UNIQUE (run, channel)
);
"""


@dataclass(frozen=True)
class Mail:
    """The site's SMTP server; no host: email is off."""

    host: str = ""
    port: int = 25
    sender: str = ""
    user: str = ""
    starttls: bool = False


def check_notify(spec, check_url, mail=Mail()):
    """A run's or schedule's `notify` as stored, and a webhook secret to show its owner once (made
    here when they gave none). BadInput naming the field."""
    if spec in (None, {}):
        return {}, ""
    if not isinstance(spec, dict):
        raise BadInput('notify is an object: {"on": "failed" | "ended" | "never", "email": ..., "webhook": ...}')
    unknown = sorted(set(spec) - {"on", "email", "webhook", "webhook_secret"})
    if unknown:
        raise BadInput(f"notify has no field {unknown[0]!r} (fields: on, email, webhook, webhook_secret)")
    when = spec.get("on", "failed")
    if when not in WHEN:
        raise BadInput(f"notify.on must be one of {', '.join(WHEN)}")
    stored, shown = {"on": when}, ""
    email = spec.get("email") or ""
    if email:
        if not isinstance(email, str) or not EMAIL.match(email) or len(email) > 254:
            raise BadInput("notify.email must be one email address")
        if not mail.host:
            raise BadInput("notify.email: this site has no mail server for notifications (c.Cygnet.runs_smtp_host)")
        stored["email"] = email
    webhook = spec.get("webhook") or ""
    if webhook:
        if not isinstance(webhook, str) or len(webhook) > 2048:
            raise BadInput("notify.webhook must be an http:// or https:// URL")
        secret = spec.get("webhook_secret") or ""
        if not isinstance(secret, str) or (secret and not 16 <= len(secret) <= 256):
            raise BadInput("notify.webhook_secret must be a text of 16 to 256 characters")
        try:
            stored["webhook"] = check_url(webhook)
        except CygnetError as e:
            raise BadInput(f"notify.webhook: {e}") from e
        if not secret:
            from .schedules import new_secret

            secret = shown = new_secret()
        stored["webhook_secret"] = secret
    elif spec.get("webhook_secret"):
        raise BadInput("notify.webhook_secret needs notify.webhook")
    if when != "never" and not (email or webhook):
        raise BadInput("notify needs an email or a webhook to tell")
    return stored, shown


def wants(spec, state, differs=False):
    """Whether `spec` asks to be told of a run that ended in `state`; a check on another view whose
    results differ counts as failed."""
    when = (spec or {}).get("on", "never")
    return when == "ended" or (when == "failed" and (state in ("failed", "cancelled") or differs))


def payload(run, link="", comparison=None):
    """What a notification says of `run`: state, times, duration, the failing cell's error, links,
    and for a check on another view its comparison with the run on the first view."""
    duration = round(run.ended - (run.started or run.created), 1) if run.ended else None
    return {
        "event": "run.ended",
        **({"comparison": comparison} if comparison else {}),
        "run": {
            "id": run.id,
            "notebook": run.notebook,
            "state": run.state,
            "schedule": run.schedule,
            "view": run.view,
            "backend": run.backend,
            "parameters": run.parameters,
            "created": run.created,
            "started": run.started,
            "ended": run.ended,
            "duration_seconds": duration,
            "error": run.error,
            "output": run.output,
            "html": run.html,
            "link": link,
        },
    }


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Outbox(Database):
    def __init__(self, path):
        super().__init__(path, SCHEMA)

    def enqueue(self, run, link="", now=None, comparison=None):
        """One notification per channel `run.notify` names, if its state asks for one; queued once
        per run and channel whatever happens (a second call adds nothing)."""
        spec = run.notify or {}
        if not wants(spec, run.state, differs=(comparison or {}).get("verdict") == "differs"):
            return 0
        now = time.time() if now is None else now
        body = json.dumps(payload(run, link, comparison))
        added = 0
        with self._lock, self._connect() as db:
            for channel, target, secret in (
                ("email", spec.get("email", ""), ""),
                ("webhook", spec.get("webhook", ""), spec.get("webhook_secret", "")),
            ):
                if target:
                    added += db.execute(
                        "INSERT OR IGNORE INTO notifications (owner, run, channel, target, secret, payload, state,"
                        " next_try, created) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (run.owner, run.id, channel, target, secret, body, now, now),
                    ).rowcount
        return added

    def due(self, now, owners=None):
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, owner, channel, target, secret, payload, attempts FROM notifications"
                " WHERE state = 'pending' AND next_try <= ? ORDER BY next_try",
                (now,),
            ).fetchall()
        return [r for r in rows if owners is None or r[1] in owners]

    def counts(self, owner):
        """[(channel, state)] of each of `owner`'s notifications (for the metrics)."""
        with self._connect() as db:
            return db.execute("SELECT channel, state FROM notifications WHERE owner = ?", (owner,)).fetchall()

    def next_try(self, owners=None):
        """When the soonest pending notification of `owners` is to be tried (None: none is pending)."""
        with self._connect() as db:
            rows = db.execute("SELECT owner, MIN(next_try) FROM notifications WHERE state = 'pending' GROUP BY owner")
            return min((t for owner, t in rows if owners is None or owner in owners), default=None)

    def take(self, notification_id, now):
        """Take a due notification to send it (its next try moved past the send's time), so a
        second deliverer on the same records does not send it too; False if someone else has."""
        with self._lock, self._connect() as db:
            return bool(
                db.execute(
                    "UPDATE notifications SET next_try = ? WHERE id = ? AND state = 'pending' AND next_try <= ?",
                    (now + 4 * SEND_TIMEOUT, notification_id, now),
                ).rowcount
            )

    def record(self, notification_id, attempts, error, now):
        """The outcome of an attempt: sent, or pending again after the back-off, or failed."""
        with self._lock, self._connect() as db:
            if not error:
                db.execute(
                    "UPDATE notifications SET state = 'sent', attempts = ?, last_error = '', sent = ? WHERE id = ?",
                    (attempts, now, notification_id),
                )
            elif attempts > len(BACKOFF):
                db.execute(
                    "UPDATE notifications SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?",
                    (attempts, error, notification_id),
                )
            else:
                db.execute(
                    "UPDATE notifications SET attempts = ?, last_error = ?, next_try = ? WHERE id = ?",
                    (attempts, error, now + BACKOFF[attempts - 1], notification_id),
                )

    def of_run(self, run_id, owner):
        """The run's notifications as its owner may see them (no secrets)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT channel, target, state, attempts, last_error, next_try, sent FROM notifications"
                " WHERE run = ? AND owner = ? ORDER BY id",
                (run_id, owner),
            ).fetchall()
        keys = ("channel", "target", "state", "attempts", "last_error", "next_try", "sent")
        return [dict(zip(keys, row, strict=True)) for row in rows]


class Notifier:
    """Hands ended runs to the outbox and delivers what is due."""

    def __init__(self, outbox, mail=Mail(), check_url=None, link_for=lambda run: "", log=LOG):
        self.outbox, self.mail, self.check_url, self.link_for, self.log = outbox, mail, check_url, link_for, log

    def collect(self, run_store, runs_of, owners=None):
        """Each run awaiting notice that has ended (refreshed through its owner's Runs) goes to the
        outbox, once."""
        handed = 0
        for run in run_store.awaiting_notice(owners):
            try:
                run = runs_of(run.owner).get(run.id)
            except CygnetError as e:
                self.log.warning("cygnet: run %s: its state could not be read for its notification: %s", run.id, e)
                continue
            if run.state not in ("succeeded", "failed", "cancelled"):
                continue
            comparison = runs_of(run.owner).comparison_of(run) if run.compare_with else {}
            if comparison is None:
                continue  # a check on another view: told once the run it is compared with has ended too
            handed += self.outbox.enqueue(run, self.link_for(run), comparison=comparison)
            run.noticed = True
            run_store.save(run)
        return handed

    def deliver(self, now=None, owners=None):
        """Try every notification that is due; returns how many were sent."""
        now = time.time() if now is None else now
        sent = 0
        for notification_id, _owner, channel, target, secret, body, attempts in self.outbox.due(now, owners):
            if not self.outbox.take(notification_id, now):
                continue
            try:
                if channel == "email":
                    self._email(target, json.loads(body))
                else:
                    self._webhook(target, secret, body.encode())
                error = ""
            except Exception as e:  # noqa: BLE001 - any failure is recorded and retried, never raised
                error = _describe(e)
            self.outbox.record(notification_id, attempts + 1, error, now)
            if error:
                self.log.warning("cygnet: a %s notification (attempt %d) failed: %s", channel, attempts + 1, error)
            else:
                sent += 1
        return sent

    def _email(self, to, data):
        mail = self.mail
        if not mail.host:
            raise CygnetError("this site has no mail server for notifications (c.Cygnet.runs_smtp_host)")
        run = data["run"]
        message = EmailMessage()
        message["From"] = mail.sender or f"cygnet@{mail.host}"
        message["To"] = to
        comparison = data.get("comparison")
        if comparison:
            old, new = comparison["views"]
            message["Subject"] = f"Cygnet: {run['notebook']} on {new} against {old}: {comparison['verdict']}"
        else:
            message["Subject"] = f"Cygnet: run of {run['notebook']} {run['state']}"
        message.set_content(email_text(run, comparison))
        with smtplib.SMTP(mail.host, mail.port, timeout=SEND_TIMEOUT) as smtp:
            if mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            password = contract.SMTP_PASSWORD.get()  # never a config option: it would reach logs and files
            if mail.user and password:
                smtp.login(mail.user, password)
            smtp.send_message(message)

    def _webhook(self, url, secret, body):
        import requests

        if self.check_url is not None:
            url = self.check_url(url)  # again at each attempt: the name may point elsewhere now
        headers = {"Content-Type": "application/json", "User-Agent": "Cygnet-Notifications"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        response = requests.post(url, data=body, headers=headers, timeout=SEND_TIMEOUT, allow_redirects=False)
        if not 200 <= response.status_code < 300:
            raise CygnetError(f"the webhook answered HTTP {response.status_code}")


def email_text(run, comparison=None):
    lines = [f"The run of {run['notebook']} has {'ended: ' + run['state'] if run['state'] != 'failed' else 'failed'}."]
    if comparison:
        lines.append(f"Compared with run {comparison['against']} on {comparison['views'][0]}: {comparison['verdict']}")
        lines += [
            f"  cell {c['cell']} [{c['verdict']}] {c['source']}: {c['detail']}" for c in comparison.get("cells", [])
        ]
        if comparison.get("error"):
            lines.append(f"  {comparison['error']}")
    if run.get("duration_seconds") is not None:
        lines.append(f"Duration: {run['duration_seconds']} s")
    if run.get("error"):
        lines.append(f"Error: {run['error']}")
    if run.get("schedule"):
        lines.append(f"Schedule: {run['schedule']}")
    lines.append(f"Result: {run.get('link') or run['output']}")
    lines.append(f"Run id: {run['id']}")
    return "\n".join(lines) + "\n"


def _describe(error):
    text = str(error) or type(error).__name__
    # A URL in a requests error could carry a query with a secret in it; keep the host only.
    return re.sub(r"(https?://[^/\s:]+)(:\d+)?[^\s'\"]*", r"\1\2/...", text)[:500]
