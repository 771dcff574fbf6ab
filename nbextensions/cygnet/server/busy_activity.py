"""A kernel that is computing is activity. JupyterHub's idle culler goes by the session's last
activity, which jupyter_server takes from requests and kernel messages: a cell that computes for
an hour without printing (or a slow first Spark connect) would look idle and be culled under the
user. While any kernel is busy, this keeps the setting `cygnet_busy_last_activity` at now;
jupyter_server counts every `*_last_activity` setting, and the hub hears of it at its next
activity report ($JUPYTERHUB_ACTIVITY_INTERVAL)."""

from datetime import UTC, datetime

from tornado.ioloop import PeriodicCallback

SETTING = "cygnet_busy_last_activity"
EVERY_S = 5


def start(serverapp):
    settings, kernels = serverapp.web_app.settings, serverapp.kernel_manager

    def mark_if_busy():
        for kernel_id in list(kernels.list_kernel_ids()):
            kernel = kernels._kernels.get(kernel_id)
            if getattr(kernel, "execution_state", "") == "busy":
                settings[SETTING] = datetime.now(UTC)
                return

    callback = PeriodicCallback(mark_if_busy, EVERY_S * 1000)
    callback.start()
    return callback
