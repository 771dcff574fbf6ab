"""How Cygnet's hub services stop: at once on SIGINT (what JupyterHub sends first) or SIGTERM,
whatever they inherited. A hub started in the background of a shell passes SIGINT on ignored,
and a service slow to stop holds up the hub's own shutdown (JupyterHub waits for each), long
enough for a supervisor to kill the hub before it stopped its sessions. What the services keep
is in SQLite, committed transaction by transaction, so leaving at once loses nothing."""

import logging
import os
import signal


def stop_on_signals(log):
    """Leave the process at once on SIGINT or SIGTERM."""

    def stop(signum, _frame):
        log.info("stopped (%s)", signal.Signals(signum).name)
        logging.shutdown()  # flushed, since nothing runs after this
        os._exit(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
