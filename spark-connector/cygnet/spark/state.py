"""Kernel side: the state of the kernel's one Spark session, as displays and the comm show it."""

import threading

from cygnet.core import contract

SECRET_WORDS = ("password", "secret", "token", "credential", "key")


class SparkState:
    """What the kernel's Spark session is: disconnected, connecting, connected or error."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self, error=None):
        self.state = "error" if error else "disconnected"
        self.error = error
        self.session = self.cluster = self.lease = self.remote = None
        self.managed = None  # the managed Connect server's id, when the session is on one
        self.conf, self.bundles, self.options = {}, [], {}
        self.log = []
        self.driver_log = None  # the classic driver's log4j file
        self.usage = None  # the record of the cluster cores it uses (cygnet.compute.usage)

    def to_dict(self):
        data = {
            "state": self.state,
            "error": self.error,
            "cluster": self.cluster.name if self.cluster else None,
            "kind": self.cluster.kind if self.cluster else None,
            "bundles": list(self.bundles),
            "options": dict(self.options),
            "conf": masked(self.conf),
            "ui_url": None,
            "app_id": None,
            "ports": self.lease.ports if self.lease else [],
            "driver_log": self.driver_log,
        }
        if self.session is not None and not self.cluster.is_connect:
            sc = self.session.sparkContext
            data["ui_url"], data["app_id"] = sc.uiWebUrl, sc.applicationId
            ui_base = contract.SPARK_UI_BASE.get()
            if ui_base and self.conf.get("spark.ui.port"):  # through the Jupyter server, behind its login
                data["ui_url"] = f"{ui_base}{self.conf['spark.ui.port']}/"
        elif self.session is not None:
            data["ui_url"] = self.conf.get("cygnet.connect.ui_url")
        return data


STATE = SparkState()


def masked(conf):
    """The configuration with secret-looking values hidden, for displays and replies."""
    return {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in conf.items()}
