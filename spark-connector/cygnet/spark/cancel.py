"""Cancel from the cell (kernel side). Each cell's Spark work is tagged as the cell starts: a job
group for classic sessions (`setJobGroup` with interrupt on cancel), an operation tag for
Spark Connect sessions (`addTag`). When the cell is interrupted (JupyterLab's stop button), the
interrupt reaches the cell as a KeyboardInterrupt, or as the Py4J error of the call it cut short;
the cell's jobs are then cancelled (`cancelJobGroup` / `interruptTag`), the cell ends with one
short line instead of a Java traceback, and the session stays connected for the next cell.
Without this, the job keeps every core busy after the interrupt and the next cell waits."""

from __future__ import annotations

import uuid

from .state import STATE


def _interrupt_errors():
    """What an interrupt surfaces as: KeyboardInterrupt, or Py4J's error for the cut-off call."""
    errors = [KeyboardInterrupt]
    try:
        from py4j.protocol import Py4JError

        errors.append(Py4JError)
    except ImportError:  # a view without Spark
        pass
    return tuple(errors)


class CellJobs:
    """The tag of the running cell's Spark work, and what cancels it."""

    def __init__(self, shell):
        self.shell = shell
        self.tag = None

    def install(self):
        self.shell.events.register("pre_run_cell", self.tag_cell)
        self.shell.set_custom_exc(_interrupt_errors(), self.on_interrupt)

    def tag_cell(self, info=None):
        self.tag = None
        session = STATE.session if STATE.state == "connected" else None
        if session is None:
            return
        tag = f"cygnet-cell-{uuid.uuid4().hex[:12]}"
        try:
            if STATE.cluster.is_connect:
                session.clearTags()
                session.addTag(tag)
            else:
                session.sparkContext.setJobGroup(tag, "a notebook cell", interruptOnCancel=True)
        except Exception:  # noqa: BLE001 - a session that cannot be tagged is not cancelled, that is all
            return
        self.tag = tag

    def cancel(self):
        """Cancel the running cell's Spark work. True when there was a connected session to ask."""
        session, tag = STATE.session, self.tag
        if session is None or tag is None or STATE.state != "connected":
            return False
        try:
            if STATE.cluster.is_connect:
                session.interruptTag(tag)
            else:
                session.sparkContext.cancelJobGroup(tag)
        except Exception:  # noqa: BLE001 - the driver is gone: the cell's error says so
            return False
        return True

    def on_interrupt(self, shell, etype, value, tb, tb_offset=None):
        """IPython's handler for the errors an interrupt raises. It shows the error itself (the
        cell's error reply), and returns nothing more for IPython to print."""
        interrupted = issubclass(etype, KeyboardInterrupt) or _cut_short(value)
        if interrupted and self.cancel():
            message = "Spark: the cell was interrupted and its Spark jobs cancelled; the session is still connected."
            shell._showtraceback(KeyboardInterrupt, KeyboardInterrupt(message), [f"KeyboardInterrupt: {message}"])
        else:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []


def _cut_short(error):
    """Whether a Py4J error is a call cut off by an interrupt (its connection broken), not an
    error Java raised (which keeps its own traceback)."""
    from py4j.protocol import Py4JNetworkError

    return isinstance(error, Py4JNetworkError)
