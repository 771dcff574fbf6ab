"""Managed Spark Connect servers: one per user and cluster of kind `connect-managed`, started,
watched and stopped by the Cygnet server. Each is recorded in <servers dir>/<id>.json, which
the kernel side reads to find where to connect."""

import json
import os
import secrets
import threading
import time
from pathlib import Path

from cygnet.core import checks
from cygnet.core.atomic import atomic_write
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable
from cygnet.core.proc import tail


def servers_dir():
    path = os.environ.get("CYGNET_SPARK_SERVERS_DIR")
    if not path:
        raise Unavailable("managed Spark Connect servers need the Cygnet server (no $CYGNET_SPARK_SERVERS_DIR)")
    return Path(path)


def running_server_url(cluster):
    """Kernel side: the URL of a ready managed server of `cluster`."""
    from cygnet.core.proc import alive

    for path in sorted(servers_dir().glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if state.get("cluster") == cluster and state.get("state") == "ready" and alive(state["pid"]):
            return state["url"]
    raise Unavailable(
        f"no Spark Connect server is running for {cluster}: start one "
        f"(POST /cygnet/api/spark/servers, or the Spark panel) and connect again"
    )


class ManagedServers:
    """Server side: start (in the background), list, follow and stop managed servers."""

    def __init__(self, directory, catalogue_loader):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.catalogue = catalogue_loader
        self.lock = threading.Lock()

    def start(self, body):
        from .conf import effective_conf

        body = checks.body(body, ("cluster", "bundles", "options"), required=("cluster",))
        options = body.get("options") or {}
        if not isinstance(options, dict) or not all(isinstance(v, (str, int, float, bool)) for v in options.values()):
            raise BadInput("options must be an object of Spark option names to values")
        for key, value in options.items():
            checks.text(key, "an option's name", max_length=256)
            checks.text(str(value), f"option {key}")
        cluster, conf = effective_conf(
            self.catalogue(),
            checks.text(body["cluster"], "cluster", max_length=256),
            checks.names(body.get("bundles"), "bundles"),
            options,
            dict(os.environ),
        )
        if cluster.kind != "connect-managed":
            raise BadInput(f"cluster {cluster.name} is a {cluster.kind} cluster, not connect-managed")
        with self.lock:
            for state in self.list():
                if state["cluster"] == cluster.name and state["state"] in ("starting", "ready"):
                    return state  # one per user and cluster
            server_id = secrets.token_hex(8)
            state = {
                "id": server_id,
                "cluster": cluster.name,
                "state": "starting",
                "pid": None,
                "url": None,
                "ui_url": None,
                "port": None,
                "log": str(self.dir / f"{server_id}.log"),
                "started": time.time(),
                "error": None,
            }
            self._save(state)
        threading.Thread(target=self._run, args=(state, cluster.master or "local[*]", conf), daemon=True).start()
        return self._public(state)

    def _run(self, state, master, conf):
        from .launch import start_connect_server

        try:
            started = start_connect_server(Path(state["log"]), master=master, conf=conf)
            state.update(
                state="ready", pid=started["pid"], url=started["url"], ui_url=started["ui_url"], port=started["port"]
            )
        except CygnetError as e:
            state.update(state="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - the state must say what happened
            state.update(state="failed", error=f"{type(e).__name__}: {e}")
        self._save(state)

    def list(self):
        return [self._public(s) for s in self._states()]

    def get(self, server_id):
        for state in self._states():
            if state["id"] == server_id:
                from .launch import read_log

                return {**self._public(state), "log_tail": tail(read_log(state["log"]), 40)}
        raise NotFound(f"no Spark Connect server {server_id}")

    def stop(self, server_id):
        from .launch import stop_pids

        for state in self._states():
            if state["id"] == server_id:
                if state.get("pid"):
                    stop_pids([state["pid"]])
                (self.dir / f"{server_id}.json").unlink(missing_ok=True)
                return
        raise NotFound(f"no Spark Connect server {server_id}")

    def stop_all(self):
        for state in self._states():
            self.stop(state["id"])

    def _states(self):
        from cygnet.core.proc import alive

        states = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if state["state"] == "ready" and not alive(state["pid"]):  # it died: say so
                state.update(state="failed", error="the Spark Connect server exited; its log has the reason")
            states.append(state)
        return states

    def _save(self, state):
        atomic_write(self.dir / f"{state['id']}.json", json.dumps(state))

    @staticmethod
    def _public(state):
        return {k: v for k, v in state.items() if k != "pid"}
