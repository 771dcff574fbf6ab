"""One-way sync of a local folder to a box, incremental, atomic per file, resumable and
conflict-safe.

- A file is sent when its content changed since its last sync. A new mtime with the same size
  (local mtimes are reliable) triggers a content hash, and a differing hash an upload. Same-size
  edits are found; a touched but unchanged file is not sent. New and resized files are sent
  without that first read: their hash is taken while they upload.
- The journal remembers what the box showed after each upload (size and etag or mtime), so a
  no-op sync never lists the box. The box is asked only about files about to be written or
  deleted, and that is where conflicts are caught. If the box's copy changed since our last
  upload, it is kept under a conflict name, reported, and ours is sent.
- Uploads go to a temporary name and are moved into place. The journal is written in short
  transactions. After a crash, a re-run removes partial uploads and carries on.
- With delete=True, files gone from the source are deleted from the box, but only those this
  sync put there and that nobody changed since; anything else in the box is left alone.
"""

from __future__ import annotations  # kernels may run this on Python < 3.10

import contextlib
import fcntl
import functools
import hashlib
import os
import posixpath
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from urllib.parse import urlsplit

from cygnet.core.datadir import default_data_dir
from cygnet.core.errors import BadInput, Unavailable

from .box import TEMP_MARK, Box, check_local_folder, open_box
from .journal import Entry, Journal
from .versions import FOLDER as VERSIONS_FOLDER
from .versions import keep as keep_version

# Jupyter's own autosave copies stay local; kept versions are the box's (a box synced back down
# must not send them up again as files).
SKIPPED_FOLDERS = {".ipynb_checkpoints", VERSIONS_FOLDER}
LARGE = 8 << 20  # bytes: files this big go one at a time, hashed while they upload
# A folder with at most this many files to send is asked about file by file: listing a folder
# of 100 files over WebDAV took 80 ms, a stat 5 ms.
STAT_UP_TO = 8
# At most this many files to send to a local box are sent one after the other, without a pool.
INLINE_UP_TO = 32


class Summary:
    """What a sync did (or, in a dry run, would do). A plain class: dataclasses cost 9 ms of
    every `cygnet sync`, which is timed against rclone."""

    def __init__(self, dry_run: bool = False) -> None:
        # In this order in to_dict(), the JSON of `cygnet sync --json` and of the REST jobs.
        self.copied = 0
        self.skipped = 0
        self.deleted = 0
        self.bytes = 0
        self.conflicts: list = []  # {"path", "kept_as"}
        self.left_in_box: list = []  # not deleted: changed in the box since
        self.partials_removed = 0
        self.would_copy: list = []  # dry runs
        self.would_delete: list = []
        self.dry_run = dry_run
        self.seconds = 0.0

    def to_dict(self) -> dict:
        return {name: list(value) if isinstance(value, list) else value for name, value in vars(self).items()}


def sync(
    src: str,
    dest: str,
    *,
    delete: bool = False,
    dry_run: bool = False,
    data_dir: str | None = None,
    workers: int = 4,
    progress: Callable[[int, int, int], None] | None = None,
    username: str | None = None,
    password: str | None = None,
    protected: Sequence[str] = (),
    waiting: Callable[[], None] | None = None,
    versions: int = 0,
) -> Summary:
    """Mirror `src` to the box `dest`; returns a Summary. `progress(files_done, files_total,
    bytes_done)` is called as files are sent.

    Syncs into one box take turns (a lock per box in the data dir, across processes), so a
    sync never sweeps the partial uploads of another that is still running; `waiting()` is
    called if this one has to wait. `protected` names box folders no sync may write into (the
    share snapshots); folders of `src` that hold the box itself, the data dir or a protected
    folder are left out of the walk, so a box inside the workspace is never copied into itself.
    With `versions` > 0, the box's copy of a file about to be replaced or deleted is kept as a
    version (cygnet.storage.versions), the newest `versions` of each file."""
    started = time.monotonic()
    src = check_local_folder(src)
    data_dir = data_dir or default_data_dir()
    box = open_box(dest, username, password)
    skipped = _left_out(src, dest, data_dir, protected)
    summary = Summary(dry_run=dry_run)
    with box_lock(data_dir, box.display, waiting):
        journal = Journal(data_dir, src, box.display)
        try:
            _sync(src, box, journal, summary, delete, dry_run, workers, progress, skipped, versions)
        finally:
            summary.seconds = round(time.monotonic() - started, 3)
            journal.close()
    return summary


def _sync(
    src: str,
    box: Box,
    journal: Journal,
    summary: Summary,
    delete: bool,
    dry_run: bool,
    workers: int,
    progress: Callable[[int, int, int], None] | None,
    skipped: set[str],
    versions: int = 0,
) -> None:
    local = _walk(src, skipped)
    known = journal.all()
    interrupted = not dry_run and journal.interrupted()
    if interrupted:
        # Only partials of our own files: the share store writes into the box as well.
        summary.partials_removed = box.remove_partials(owned=lambda rel: rel in local or rel in known)
    changed = []
    for rel, (size, mtime_ns) in local.items():
        prev = known.get(rel)
        if prev and (prev.size, prev.mtime_ns) == (size, mtime_ns):
            summary.skipped += 1
            continue
        digest = None  # new or resized: certainly sent, and hashed on the way (or not: see _upload)
        if prev and prev.size == size:
            digest = file_digest(os.path.join(src, rel))
            # No digest was taken at the upload (a box whose own copy can be read cheaply): the
            # box's copy, still as we left it (its version is checked before any write), stands in.
            known_digest = prev.digest or _box_digest(box, rel)
            if known_digest == digest:  # touched, not changed
                summary.skipped += 1
                if not dry_run:
                    journal.record(rel, Entry(size, mtime_ns, digest, prev.box_size, prev.box_version))
                continue
        changed.append((rel, size, mtime_ns, digest))
    gone = [rel for rel in known if rel not in local] if delete else []

    if dry_run:
        summary.would_copy = sorted(rel for rel, *_ in changed)
        summary.would_delete = sorted(gone)
        return

    if not changed and not gone and not interrupted:
        return  # nothing to write: the journal stays as it is (and no thread pool is started)
    # A first sync into a folder the box does not have yet: nothing there to check each file
    # against (a stat per file saved), and each folder's listing afterwards holds only our files.
    new_box = bool(changed) and not known and not box.has_folder("")
    journal.begin()
    _send(box, journal, src, changed, known, summary, workers, progress, versions, new_box)
    for rel in gone:
        _delete(box, journal, rel, known[rel], summary, versions)
    journal.finish()


@contextlib.contextmanager
def box_lock(data_dir: str, box_display: str, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock of one box (an flock on a file in the data dir: released by the kernel if
    the holder dies, so a crash never leaves it held)."""
    key = hashlib.sha256(box_display.encode()).hexdigest()[:24]
    path = os.path.join(data_dir, "sync", "locks", f"{key}.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                waiting()
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_target(src: str, dest: str, protected: Sequence[str] = ()) -> None:
    """BadInput if a sync of `src` into `dest` must not run: the source lies inside the box, or
    `dest` is (inside) a protected folder such as the share snapshots."""
    box_root = _local_path(dest)
    if box_root and _within(src, box_root):
        raise BadInput(f"{src} is inside the box {box_root}: a sync would copy the box into itself")
    for url in protected:
        if _url_relative(dest, url) is not None:
            raise BadInput("that box folder is where Cygnet keeps share snapshots; sync into another one")


def _left_out(src: str, dest: str, data_dir: str, protected: Sequence[str]) -> set[str]:
    """Folders of `src` (relative) a sync into `dest` must not walk: the box itself and the data
    dir when they live inside the source, and protected box folders below `dest`."""
    check_target(src, dest, protected)
    left_out = {inside for inside in (_url_relative(url, dest) for url in protected) if inside}
    box_root = _local_path(dest)
    for folder in (box_root, os.path.abspath(data_dir)):
        if folder and folder != src and _within(folder, src):
            left_out.add(os.path.relpath(folder, src).replace(os.sep, "/"))
    return left_out


def _local_path(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return os.path.realpath(os.path.expanduser(parts.path if parts.scheme else url))
    return None


def _within(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _url_relative(url: str, base: str) -> str | None:
    """`url`'s path below `base` ('' for the same place), or None if it is not below it."""
    a, b = urlsplit(url), urlsplit(base)
    local_url, local_base = _local_path(url), _local_path(base)
    if local_url and local_base:
        path, folder = local_url, local_base
    elif (a.scheme, a.netloc) == (b.scheme, b.netloc):
        path, folder = posixpath.normpath("/" + a.path.lstrip("/")), posixpath.normpath("/" + b.path.lstrip("/"))
    else:
        return None
    if path == folder:
        return ""
    prefix = folder.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _walk(src: str, skipped: Collection[str] = frozenset()) -> dict[str, tuple[int, int]]:
    """rel path -> (size, mtime_ns) of every regular file under src (links are not followed).
    Names are built as the walk goes down: os.walk and relpath cost twice as long for 10,000 files."""
    files, pending = {}, [("", src)]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue  # gone or unreadable, as os.walk would skip it
        with entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if name not in SKIPPED_FOLDERS and f"{prefix}{name}" not in skipped:
                        pending.append((f"{prefix}{name}/", entry.path))
                elif TEMP_MARK not in name and entry.is_file(follow_symlinks=False):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted while we looked: the next sync sees it gone
                    files[prefix + name] = (st.st_size, st.st_mtime_ns)
    return files


@functools.cache  # once: a failed import would otherwise be retried for every file
def _hasher() -> tuple[str, Callable]:
    """(prefix, new hash): XXH3-128, or sha256 where a view lacks xxhash. The digest only tells
    a changed file from a touched one, so it need not resist forgery; XXH3 hashes at memory speed
    (about 20 GB/s here, BLAKE3 3 GB/s), which keeps the hash of a large file beside its upload
    off the cores the upload and a local server use. Digests carry their prefix: one made another
    way never matches, which costs an upload, never a missed change."""
    try:
        from xxhash import xxh3_128
    except ImportError:
        return "sha256:", hashlib.sha256
    return "x3:", xxh3_128


def file_digest(path: str) -> str:
    prefix, new = _hasher()
    h = new()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as e:
        raise Unavailable(f"cannot read {path}: {e.strerror or e}") from e
    return prefix + h.hexdigest()


def bytes_digest(data: bytes) -> str:
    prefix, new = _hasher()
    return prefix + new(data).hexdigest()


def _box_digest(box: Box, rel: str) -> str | None:
    """The digest of the box's copy, where the box can give it cheaply (a local box hashes its
    file); None elsewhere."""
    digest_of = getattr(box, "digest", None)
    if digest_of is None:
        return None
    try:
        return digest_of(rel, file_digest)
    except FileNotFoundError:
        return None


def _upload(box: Box, path: str, rel: str, size: int, digest: str | None) -> str | None:
    """Upload, and return the file's digest: taken from the bytes sent by a box that can, else
    beside the upload when not known yet (a second core reads from the page cache what the
    upload just read). A box that can hash its own copy later (`lazy_digests`, a local box)
    gets none: the hash is taken only if a later sync meets a same-size file with a new mtime,
    which most files never are."""
    if digest is not None or getattr(box, "lazy_digests", False):
        box.upload(path, rel)
        return digest
    upload_hashing = getattr(box, "upload_hashing", None)
    if upload_hashing is not None:  # one read of the file, no second thread
        prefix, new = _hasher()
        return prefix + upload_hashing(path, rel, new).hexdigest()
    if size < LARGE:
        digest = file_digest(path)
        box.upload(path, rel)
        return digest
    from concurrent.futures import ThreadPoolExecutor  # only when something is sent

    with ThreadPoolExecutor(1) as hasher:
        pending = hasher.submit(file_digest, path)
        box.upload(path, rel)
        return pending.result()


def _send(
    box: Box,
    journal: Journal,
    src: str,
    changed: list[tuple[str, int, int, str | None]],
    known: dict[str, Entry],
    summary: Summary,
    workers: int,
    progress: Callable[[int, int, int], None] | None,
    versions: int = 0,
    new_box: bool = False,
) -> None:
    """Send the changed files, checking each against the box's current copy first (none in a
    `new_box`, which had no root folder before). The box is read a folder listing at a time
    (or a stat per file, for folders with few files to send):
    before sending (conflicts), and once a folder's files are all sent (their new versions,
    then written to the journal: a crash loses only the folders still in flight, which the
    next run checks again)."""
    lock = threading.Lock()
    before = {}  # folder -> its listing, fetched when first needed
    to_send = Counter(posixpath.dirname(rel) for rel, *_ in changed)
    remaining = Counter(to_send)
    sent: defaultdict[str, list] = defaultdict(list)  # folder -> files sent, recorded when complete
    total = len(changed)

    def in_box(rel: str) -> tuple | None:
        if new_box:
            return None
        folder, name = posixpath.split(rel)
        if to_send[folder] <= STAT_UP_TO:
            return box.stat(rel)
        with lock:
            if folder not in before:
                before[folder] = box.listing(folder)
            return before[folder].get(name)

    def folder_done(folder: str) -> None:
        with lock:
            remaining[folder] -= 1
            items = sent.pop(folder, []) if remaining[folder] == 0 else []
        if items:
            after = box.listing(folder) if new_box or to_send[folder] > STAT_UP_TO else {}
            with lock:
                for rel, size, mtime_ns, digest in items:
                    box_size, box_version = after.get(posixpath.basename(rel)) or box.stat(rel) or (size, "")
                    journal.record(rel, Entry(size, mtime_ns, digest, box_size, box_version))

    def send(item: tuple[str, int, int, str | None]) -> None:
        rel, size, mtime_ns, digest = item
        path = os.path.join(src, rel)
        prev = known.get(rel)
        current = in_box(rel)
        if current is not None:
            box.file_seen(rel)
        conflict = None
        if current is not None and current != ((prev.box_size, prev.box_version) if prev else None):
            # Changed in the box since our last upload, or never ours. Identical content (our
            # own upload from a crashed run, or the same file put there by hand) is adopted.
            if current[0] == size:
                digest = digest or file_digest(path)
                if bytes_digest(box.read(rel)) == digest:
                    with lock:
                        journal.record(rel, Entry(size, mtime_ns, digest, *current))
                        summary.skipped += 1
                    folder_done(posixpath.dirname(rel))
                    return
            conflict = _conflict_name(rel)
            box.rename(rel, conflict)
        elif current is not None and versions:  # our last upload, about to be replaced
            keep_version(box, rel, versions)
        digest = _upload(box, path, rel, size, digest)
        with lock:
            sent[posixpath.dirname(rel)].append((rel, size, mtime_ns, digest))
            if conflict:
                summary.conflicts.append({"path": rel, "kept_as": conflict})
            summary.copied += 1
            summary.bytes += size
            if progress:
                progress(summary.copied + summary.skipped, total, summary.bytes)
        folder_done(posixpath.dirname(rel))

    if len(changed) <= INLINE_UP_TO and getattr(box, "local", False):
        # A few files to a disk: no round trips to overlap, so no pool to start (its import
        # and threads were a third of a 10-file sync to a local box).
        for item in changed:
            send(item)
        return
    # Small files go `workers` at a time (their cost is round trips); large ones one at a time
    # beside them (their cost is bytes, and parallel streams of one disk or server only
    # compete: three 64 MiB uploads to WebDAV took 1.8x as long in parallel).
    from concurrent.futures import ThreadPoolExecutor  # only when something is sent

    with ThreadPoolExecutor(max(1, workers)) as small, ThreadPoolExecutor(1) as large:
        pending = [(large if item[1] >= LARGE else small).submit(send, item) for item in changed]
        try:
            for future in pending:
                future.result()
        except BaseException:
            for future in pending:  # a dead box fails once, not once per file still queued
                future.cancel()
            raise


def _delete(box: Box, journal: Journal, rel: str, prev: Entry, summary: Summary, versions: int = 0) -> None:
    current = box.stat(rel)
    if current is not None and current != (prev.box_size, prev.box_version):
        summary.left_in_box.append(rel)  # someone changed it in the box: not ours to delete
    elif current is not None:
        if versions:  # its last copy becomes its newest version
            keep_version(box, rel, versions, move=True)
        else:
            box.delete(rel)
        summary.deleted += 1
    journal.forget(rel)


def _conflict_name(rel: str) -> str:
    stem, suffix = os.path.splitext(rel)
    return f"{stem}.conflict-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
