"""The site's gallery: notebooks their owners chose to publish, from their shares.

An entry is a notebook share plus a title and a description, in the same SQLite database as the
shares (`ShareStore.db`). It shows the share's snapshot, so *Refresh* updates it and a revoked or
expired share leaves the gallery with it. Owners publish and unpublish; an admin hides an entry
(it stays hidden when its owner publishes it again) and shows it again. The thumbnail is the
notebook's first PNG figure, read from the snapshot once per revision."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass

from cygnet.core import checks
from cygnet.core.errors import BadInput, NotFound

from .store import Share, ShareStore

MAX_TITLE, MAX_DESCRIPTION = 200, 2000
MAX_ENTRIES = 500  # listed at once; a search narrows it
MAX_THUMB_BYTES = 2 << 20


@dataclass
class Entry:
    share: Share
    title: str
    description: str
    published: float
    hidden: bool

    @property
    def id(self):
        return self.share.id

    def to_dict(self):
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "owner": self.share.owner,
            "path": self.share.path,
            "published": self.published,
            "refreshed": self.share.refreshed,
            "hidden": self.hidden,
        }


class Gallery:
    def __init__(self, store: ShareStore):
        self.store = store
        self.changes = 0  # bumped on every change, so pages cached by it stay true
        self._thumbs: dict[tuple[str, int], bytes | None] = {}
        self._thumbs_lock = threading.Lock()
        with store.lock, store.db:
            store.db.execute("""CREATE TABLE IF NOT EXISTS gallery (
                share_id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
                published REAL NOT NULL, hidden_by TEXT)""")

    def changed(self):
        self.changes += 1

    # --- owners -------------------------------------------------------------------------------
    def publish(self, share_id, owner, title=None, description=None) -> Entry:
        """Publish (or re-title) one of `owner`'s notebook shares."""
        share = self.store.get(share_id, owner)
        if share.kind != "notebook":
            raise BadInput("only a notebook can be published to the gallery (this share is a " + share.kind + ")")
        if share.expired:
            raise BadInput("this share has expired: make a new one to publish")
        title = (checks.text(title, "title", required=False, max_length=MAX_TITLE) or "").strip()
        title = title or share.name.removesuffix(".ipynb")
        description = checks.text(description, "description", required=False, max_length=MAX_DESCRIPTION) or ""
        description = description.strip()
        with self.store.lock, self.store.db:
            self.store.db.execute(
                "INSERT INTO gallery (share_id, title, description, published) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (share_id) DO UPDATE SET title = excluded.title, description = excluded.description",
                (share.id, title, description, time.time()),
            )
        self.changed()
        return self._entries("g.share_id = ?", [share.id], include_hidden=True)[0]

    def unpublish(self, share_id, owner) -> None:
        share = self.store.get(share_id, owner)
        with self.store.lock, self.store.db:
            gone = self.store.db.execute("DELETE FROM gallery WHERE share_id = ?", (share.id,)).rowcount
        self.changed()
        if not gone:
            raise NotFound(f"share {share.id} is not in the gallery")

    def published(self, share_id) -> Entry | None:
        """The entry of a share, hidden or not (for its owner's view of it)."""
        found = self._entries("g.share_id = ?", [share_id], include_hidden=True)
        return found[0] if found else None

    # --- admins ---------------------------------------------------------------------------------
    def hide(self, share_id, admin, hidden=True) -> Entry:
        with self.store.lock, self.store.db:
            changed = self.store.db.execute(
                "UPDATE gallery SET hidden_by = ? WHERE share_id = ?", (admin if hidden else None, share_id)
            ).rowcount
        self.changed()
        if not changed:
            raise NotFound(f"no gallery entry {share_id}")
        return self._entries("g.share_id = ?", [share_id], include_hidden=True)[0]

    # --- everyone ---------------------------------------------------------------------------------
    def entries(self, query=None, include_hidden=False) -> list[Entry]:
        """Visible entries, newest first; those whose title, description, owner or path hold every
        word of `query` (case-insensitive)."""
        query = checks.text(query, "q", required=False, max_length=200) or ""
        where, args = "1", []
        for word in query.lower().split()[:10]:
            like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where += (
                " AND (lower(g.title) LIKE ? ESCAPE '\\' OR lower(g.description) LIKE ? ESCAPE '\\'"
                " OR lower(s.owner) LIKE ? ESCAPE '\\' OR lower(s.path) LIKE ? ESCAPE '\\')"
            )
            args += [like] * 4
        return self._entries(where, args, include_hidden)

    def entry(self, share_id) -> Entry:
        found = self._entries("g.share_id = ?", [share_id], include_hidden=False)
        if not found:
            raise NotFound("no such notebook in the gallery: it was unpublished, hidden or never there")
        return found[0]

    def thumbnail(self, entry: Entry) -> bytes | None:
        """The PNG of the notebook's first figure (None if it has none)."""
        key = (entry.id, entry.share.rev)
        with self._thumbs_lock:
            if key in self._thumbs:
                return self._thumbs[key]
        png = first_png(self.store.read(entry.share))
        with self._thumbs_lock:
            if len(self._thumbs) > 4 * MAX_ENTRIES:
                self._thumbs.clear()
            self._thumbs[key] = png
        return png

    def _entries(self, where, args, include_hidden) -> list[Entry]:
        sql = (
            "SELECT s.*, g.title, g.description, g.published, g.hidden_by FROM gallery g "
            "JOIN shares s ON s.id = g.share_id WHERE s.revoked IS NULL AND " + where
        )
        if not include_hidden:
            sql += " AND g.hidden_by IS NULL"
        with self.store.lock:
            rows = self.store.db.execute(sql + f" ORDER BY g.published DESC LIMIT {MAX_ENTRIES}", args).fetchall()
        shares = {s.id: s for s in self.store.shares_of_rows([r[:11] for r in rows])}
        return [
            Entry(shares[r[0]], r[11], r[12], r[13], r[14] is not None)
            for r in rows
            if r[0] in shares and not shares[r[0]].expired
        ]


def first_png(raw: bytes) -> bytes | None:
    """The first image/png output of a notebook's cells, decoded (None if none, or too big)."""
    try:
        notebook = json.loads(raw)
        cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    except ValueError:
        return None
    for cell in cells:
        for output in (cell.get("outputs") or []) if isinstance(cell, dict) else []:
            data = output.get("data") if isinstance(output, dict) else None
            png = data.get("image/png") if isinstance(data, dict) else None
            if isinstance(png, list):
                png = "".join(png)
            if isinstance(png, str) and len(png) < MAX_THUMB_BYTES * 4 // 3 + 4:
                try:
                    decoded = base64.b64decode(png, validate=False)
                except (binascii.Error, ValueError):
                    continue
                if decoded.startswith(b"\x89PNG\r\n\x1a\n"):
                    return decoded
    return None
