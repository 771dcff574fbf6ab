"""Where the server's blocking work runs, so that slow work cannot starve quick answers.

- Quick work (listings, status, a share page's rendering) runs on its own small pool with a
  time limit: a views listing never waits behind a clone.
- Long work (opens, syncs) runs on a separate bounded pool, at most `per_user` tasks of one
  user at once (running or queued); one more is refused with TooBusy (HTTP 429) at once rather
  than queued behind the others. Every long task has its own wall-clock deadline inside its
  core (git, downloads and uploads are bounded there), so a slot is always given back.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from cygnet.core.errors import TooBusy, Unavailable

QUICK_WORKERS = 8


class Work:
    def __init__(self, long_workers=8, per_user=4):
        self.quick_pool = ThreadPoolExecutor(QUICK_WORKERS, thread_name_prefix="cygnet-quick")
        self.long_pool = ThreadPoolExecutor(max(1, long_workers), thread_name_prefix="cygnet-long")
        self.per_user = max(1, per_user)
        self._busy = {}  # user -> long tasks running or queued
        self._lock = threading.Lock()

    async def quick(self, function, *args, timeout=60):
        """`function(*args)` on the quick pool; Unavailable after `timeout` seconds."""
        future = asyncio.get_running_loop().run_in_executor(self.quick_pool, lambda: function(*args))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise Unavailable(
                f"no answer within {timeout:g} s: is a file system or server Cygnet reads hung?"
            ) from None

    def submit_long(self, user, what, function, *args):
        """Start `function(*args)` on the long pool for `user`; returns a concurrent Future.
        TooBusy if the user already has `per_user` long tasks."""
        with self._lock:
            if self._busy.get(user, 0) >= self.per_user:
                raise TooBusy(
                    f"too many at once: {self.per_user} opens or syncs of yours are already "
                    f"under way; {what} can start when one of them ends"
                )
            self._busy[user] = self._busy.get(user, 0) + 1
        try:
            future = self.long_pool.submit(function, *args)
        except BaseException:
            self._release(user)
            raise
        future.add_done_callback(lambda _: self._release(user))
        return future

    def _release(self, user):
        with self._lock:
            self._busy[user] -= 1
            if not self._busy[user]:
                del self._busy[user]


def every(seconds, step, *args):
    """Run the coroutine function `step(*args)` on the server's loop every `seconds` (the server's
    periodic checks), one round at a time: a round still under way when the next is due makes
    that one skip, so slow rounds never pile up. Returns the timer (stopped with the server), or
    None, and nothing run, when `seconds` is 0 or less (a site turned it off)."""
    from tornado.ioloop import PeriodicCallback

    if seconds <= 0:
        return None
    running = None

    def tick():
        nonlocal running
        if running is None or running.done():
            running = asyncio.ensure_future(step(*args))

    timer = PeriodicCallback(tick, seconds * 1000)
    timer.start()
    return timer
