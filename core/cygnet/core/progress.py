"""The command line's one progress bar: a line on stderr redrawn in place."""

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO


class ProgressBar:
    def __init__(self, width: int = 30, stream: "TextIO | None" = None) -> None:
        self.started, self.width, self.stream = time.monotonic(), width, stream or sys.stderr

    def update(self, done: int, total: int, label: str, moved_bytes: int) -> None:
        """Draw `done` of `total` with `label`, the rate of `moved_bytes` and the time left."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        filled = self.width * done // max(total, 1)
        eta = (total - done) * elapsed / max(done, 1)
        self.stream.write(
            f"\r[{'#' * filled}{' ' * (self.width - filled)}] {label}, "
            f"{moved_bytes / elapsed / 2**20:.1f} MiB/s, ETA {eta:.0f} s "
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
