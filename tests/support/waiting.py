"""Tests wait for a condition, never for a duration."""

import time


def wait_for(condition, what, timeout=180, poll=0.3, passing=()):
    """`condition()`'s first true value, polled every `poll` seconds; TimeoutError naming `what`
    after `timeout` seconds. Exceptions of the `passing` types count as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except passing:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(poll)
