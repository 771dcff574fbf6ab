"""Kernel side: the one shape of an engine's comm (Spark's `cygnet.spark`, Dask's `cygnet.dask`),
so one front end serves both. The front end sends {"action": ..., ...}; the kernel answers with
{"action": "state", "state": {...}} when it opens and after each action, and with
{"action": "error", "message", "state"} when an action fails, always: a failed action never
leaves the front end waiting. Kernel-side code: standard library only, Python 3.8+."""

from __future__ import annotations  # kernel side: Python 3.8 reads dict[...] annotations unevaluated

import json
import os
from typing import Any

from cygnet.core.errors import BadInput, CygnetError


class EngineComm:
    """Subclasses name their `actions` ({name: method taking the message's data}) and `status`."""

    actions: dict[str, str] = {}

    def __init__(self, ip: Any, comm: Any) -> None:
        self.ip, self.comm = ip, comm
        comm.on_msg(self.on_msg)
        self.send_state()

    def status(self) -> dict[str, Any]:
        raise NotImplementedError

    def on_msg(self, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data", {}) or {}
        action = data.get("action")
        try:
            if action == "get-state":
                self.send_state()
            elif action in self.actions:
                getattr(self, self.actions[action])(data)
            else:
                known = ", ".join(["get-state", *self.actions])
                raise BadInput(f"unknown action {action!r} ({known})")
        except CygnetError as e:
            self.comm.send({"action": "error", "message": str(e), "state": self.status()})
        except Exception as e:  # noqa: BLE001 - the front end must always get an answer
            self.comm.send({"action": "error", "message": f"{type(e).__name__}: {e}", "state": self.status()})

    def send_state(self) -> None:
        self.comm.send({"action": "state", "state": self.status()})

    def send_connecting(self, cluster: str) -> None:
        self.comm.send({"action": "state", "state": {**self.status(), "state": "connecting", "cluster": cluster}})

    def send_log(self, line: str) -> None:
        self.comm.send({"action": "log", "line": line})


def saved_choice(engine: str) -> dict[str, Any]:
    """The notebook's saved choice for `engine` (metadata.cygnet.spark or .dask, which the compute
    panel writes), read from the notebook file the kernel's session names ($JPY_SESSION_NAME);
    {} if there is none."""
    path = os.environ.get("JPY_SESSION_NAME")
    if not path or not path.endswith(".ipynb"):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            metadata = json.load(f).get("metadata", {})
    except (OSError, ValueError):
        return {}
    choice = metadata.get("cygnet", {}).get(engine, {})
    return choice if isinstance(choice, dict) else {}
