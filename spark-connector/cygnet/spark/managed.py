"""Managed Spark Connect servers: one per user, cluster of kind `connect-managed` and software
view, so the server's Python workers (pandas UDFs, mapInPandas) run in the view of the kernels
that use it, and its working folder is the user's workspace (relative paths land there).

A server is started by the Cygnet server (REST, the Spark panel) or by a kernel whose
`connect` finds none for its view; either way it is recorded in <servers dir>/<id>.json and
outlives the kernel that started it. The record names the Cygnet server it belongs to (its
`owner`: the server itself, or the server of the kernel that started it), because one user's
several sessions (named servers, a second `cygnet up`) share the folder: a Cygnet server stops
and sweeps its own servers, and those of a Cygnet server that is gone (an owner is alive while
it holds the lock <servers dir>/owners/<owner>.lock), never another live session's. Each connected kernel holds a lease,
<id>.sessions/<kernel pid>.json, naming its Connect session. The Cygnet server's `sweep`
releases the sessions of kernels that are gone (killed, restarted, shut down), so the server's
memory comes back, and stops a server no kernel has used for the idle time. Each ready server
keeps one spare session that has run a first job (`spare_session` in its record): the next
kernel to connect takes it, so its first query does not pay a new session's set-up, and the
Cygnet server warms another a few seconds later (`refill_spares`)."""

import contextlib
import fcntl
import json
import os
import re
import secrets
import sys
import threading
import time
from pathlib import Path

from cygnet.core import checks, contract
from cygnet.core.atomic import atomic_write
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable
from cygnet.core.proc import alive, tail
from cygnet.core.session_key import session_key

from .connect_auth import TOKEN_ENV, channel, new_token, read_token, write_token


def servers_dir():
    path = contract.SPARK_SERVERS_DIR.get()
    if not path:
        raise Unavailable("managed Spark Connect servers need the Cygnet server (no $CYGNET_SPARK_SERVERS_DIR)")
    return Path(path)


def kernel_view():
    return contract.VIEW.get()


SPARE_AFTER = 3.0  # seconds after a kernel took a spare session before another is warmed
SPARE_MAX_AGE = 1800.0  # seconds a spare is handed out (Spark closes sessions idle for an hour)


# --- kernel side -----------------------------------------------------------------------------
def server_for_kernel(cluster, log):
    """The state of a ready server of `cluster` for this kernel's view, started here (in the
    kernel's environment, for its Python) when there is none."""
    folder = servers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    view = kernel_view()
    with _locked(folder / f".start-{cluster.name}.lock"):  # two kernels of one view start one server
        for state in read_states(folder):
            if state["cluster"] == cluster.name and state.get("view", "") == view and state["state"] == "ready":
                return _take_spare(folder, state)
        from .launch import start_connect_server

        log(f"starting a Spark Connect server for {cluster.name} in {view or 'this environment'}")
        server_id = secrets.token_hex(8)
        log_path = folder / f"{server_id}.log"
        conf = server_conf({**cluster.conf, "spark.pyspark.python": sys.executable})
        workspace = contract.WORKSPACE.get() or os.getcwd()
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}  # the Python its workers run
        env.pop(TOKEN_ENV, None)  # the new server's own token, not one this kernel holds
        started = start_connect_server(
            log_path,
            master=cluster.master or "local[*]",
            conf=conf,
            env=env,
            cwd=workspace,
            token=server_token(folder, server_id),
            ui_key=session_key(),
        )
        state = _new_state(server_id, cluster.name, view, log_path, contract.SERVER_ID.get())
        state.update(state="ready", pid=started["pid"], url=started["url"], ui_url=proxied_ui(started))
        state.update(port=started["port"], ui_port=started["ui_port"], spare_session=started.get("spare_session"))
        state["spare_made"] = time.time()
        atomic_write(folder / f"{server_id}.json", json.dumps(state))
        return _take_spare(folder, state)


def _take_spare(folder, state):
    """The server's state for a connecting kernel, with the spare session (its `session_id`) when
    there is one; the record then has none until the Cygnet server warms another."""
    spare = state.pop("spare_session", None)
    if not spare:
        return state
    state["spare_taken"] = time.time()
    if time.time() - state.pop("spare_made", 0) > SPARE_MAX_AGE:  # the Cygnet server warms a new one
        atomic_write(folder / f"{state['id']}.json", json.dumps(state))
        return state
    atomic_write(folder / f"{state['id']}.json", json.dumps(state))
    return {**state, "session_id": spare}


def hold(state, session):
    """Record this kernel's session on the server, for the server's sweep to release if the
    kernel goes away without disconnecting."""
    leases = servers_dir() / f"{state['id']}.sessions"
    leases.mkdir(exist_ok=True)
    client = session.client
    lease = {"pid": os.getpid(), "session_id": client._session_id, "user_id": getattr(client, "_user_id", "") or ""}
    atomic_write(leases / f"{os.getpid()}.json", json.dumps(lease))


def let_go(server_id):
    with contextlib.suppress(OSError, Unavailable):
        (servers_dir() / f"{server_id}.sessions" / f"{os.getpid()}.json").unlink()


# --- server side -----------------------------------------------------------------------------
class ManagedServers:
    """Start (in the background), list, follow, sweep and stop managed servers."""

    def __init__(self, directory, catalogue_loader, workspace=None, owner=""):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.catalogue = catalogue_loader
        self.workspace = workspace
        self.lock = threading.Lock()
        self.owner = owner or secrets.token_hex(8)
        self._owner_lock = hold_owner_lock(self.dir, self.owner)  # held while this object lives

    def release(self):
        """This owner is gone (its lock let go): what it started is another server's to stop."""
        with contextlib.suppress(OSError):
            Path(self._owner_lock.name).unlink()
        self._owner_lock.close()

    def mine(self, state):
        """Whether this Cygnet server is to stop and sweep the server of `state`: its own, or one
        whose owner is gone (or unknown: a record from before owners were written)."""
        owner = state.get("owner", "")
        return owner == self.owner or not owner_alive(self.dir, owner)

    def start(self, body, environment=None):
        """Start a server for `body` ({cluster, bundles?, options?, view?}); `environment`
        ({view, python, env}) is the view's, resolved by the caller; None: the service's own."""
        from .conf import effective_conf

        body = checks.body(body, ("cluster", "bundles", "options", "view"), required=("cluster",))
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
        environment = environment or {"view": "", "python": sys.executable, "env": dict(os.environ)}
        conf.setdefault("spark.pyspark.python", environment["python"])
        conf = server_conf(conf)
        environment["env"] = {**environment["env"], "PYSPARK_PYTHON": environment["python"]}
        with self.lock:
            for state in self.list():
                same = state["cluster"] == cluster.name and state.get("view", "") == environment["view"]
                if same and state["state"] in ("starting", "ready"):
                    return state  # one per user, cluster and view
            server_id = secrets.token_hex(8)
            log_path = self.dir / f"{server_id}.log"
            state = _new_state(server_id, cluster.name, environment["view"], log_path, self.owner)
            self._save(state)
        threading.Thread(
            target=self._run, args=(state, cluster.master or "local[*]", conf, environment["env"]), daemon=True
        ).start()
        return self._public(state)

    def _run(self, state, master, conf, env):
        from .launch import start_connect_server

        try:
            started = start_connect_server(
                Path(state["log"]),
                master=master,
                conf=conf,
                env=env,
                cwd=self.workspace,
                token=server_token(self.dir, state["id"]),
                ui_key=session_key(),
            )
            state.update(state="ready", pid=started["pid"], url=started["url"], ui_url=proxied_ui(started))
            state.update(port=started["port"], ui_port=started["ui_port"], spare_session=started.get("spare_session"))
            state["spare_made"] = time.time()
        except CygnetError as e:
            state.update(state="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - the state must say what happened
            state.update(state="failed", error=f"{type(e).__name__}: {e}")
        self._save(state)

    def list(self):
        return [self._public(s) for s in read_states(self.dir)]

    def get(self, server_id):
        for state in read_states(self.dir):
            if state["id"] == server_id:
                from .launch import read_log

                return {**self._public(state), "log_tail": tail(read_log(state["log"]), 40)}
        raise NotFound(f"no Spark Connect server {server_id}")

    def stop(self, server_id):
        from .launch import stop_pids

        for state in read_states(self.dir):
            if state["id"] == server_id:
                if state.get("pid"):
                    stop_pids([state["pid"]])
                for suffix in (".json", ".token", ".properties"):
                    (self.dir / f"{server_id}{suffix}").unlink(missing_ok=True)
                for lease in self._leases(server_id):
                    lease.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    (self.dir / f"{server_id}.sessions").rmdir()
                return
        raise NotFound(f"no Spark Connect server {server_id}")

    def stop_all(self):
        """Stop this Cygnet server's managed servers (and those of owners that are gone), as it
        stops: another live session's go on."""
        for state in read_states(self.dir):
            if self.mine(state):
                with contextlib.suppress(NotFound):  # stopped meanwhile by someone else
                    self.stop(state["id"])

    def sweep(self, idle_timeout):
        """Release the sessions of kernels that are gone; stop servers idle for `idle_timeout`
        seconds (0: never). Returns what it did, for the log."""
        done = []
        now = time.time()
        for state in read_states(self.dir):
            if state["state"] != "ready" or not self.mine(state):
                continue
            in_use = 0
            for lease in self._leases(state["id"]):
                try:
                    held = json.loads(lease.read_text())
                except (OSError, ValueError):
                    continue
                if alive(held["pid"]):
                    in_use += 1
                    continue
                token = read_token(self.dir / f"{state['id']}.token")
                release_session(state["url"], held["session_id"], held.get("user_id", ""), token)
                lease.unlink(missing_ok=True)
                done.append(f"released the session of kernel {held['pid']} on {state['cluster']}")
            last_used = max(state["started"], self._last_lease_change(state["id"]))
            if idle_timeout > 0 and not in_use and now - last_used > idle_timeout:
                self.stop(state["id"])
                done.append(f"stopped the idle Spark Connect server of {state['cluster']}")
        return done

    def refill_spares(self, after=SPARE_AFTER):
        """Warm a spare session on each ready server of this owner that has none, once `after`
        seconds have passed since a kernel took the last one (out of the way of its first query).
        Returns what it did, for the log."""
        from .launch import warm_session

        done = []
        for state in read_states(self.dir):
            if state["state"] != "ready" or not self.mine(state) or time.time() - state.get("spare_taken", 0) < after:
                continue
            if state.get("spare_session") and time.time() - state.get("spare_made", 0) < SPARE_MAX_AGE:
                continue
            token = read_token(self.dir / f"{state['id']}.token")
            spare = warm_session(state["url"], token)
            if spare is None:
                continue
            with _locked(self.dir / f".start-{state['cluster']}.lock"):  # as kernels take spares
                current = next((s for s in read_states(self.dir) if s["id"] == state["id"]), None)
                if current is None or current["state"] != "ready":
                    continue  # stopped meanwhile: the server and its sessions are gone
                # A spare too old to hand out, or one another round warmed meanwhile, is given back.
                unused = current.get("spare_session")
                current.update(spare_session=spare, spare_made=time.time(), spare_taken=0)
                self._save(current)
            if unused:
                release_session(state["url"], unused, token=token)
            done.append(f"warmed a spare session on the Spark Connect server of {state['cluster']}")
        return done

    def _leases(self, server_id):
        return sorted((self.dir / f"{server_id}.sessions").glob("*.json"))

    def _last_lease_change(self, server_id):
        try:
            return (self.dir / f"{server_id}.sessions").stat().st_mtime
        except OSError:
            return 0.0

    def _save(self, state):
        atomic_write(self.dir / f"{state['id']}.json", json.dumps(state))

    @staticmethod
    def _public(state):
        return {k: v for k, v in state.items() if k not in ("pid", "spare_session", "spare_made", "spare_taken")}


def proxied_ui(started):
    """The server's UI through the Jupyter server (cygnet.server.spark_ui), behind its login;
    its own address where there is no Jupyter server."""
    server = contract.SERVER_BASE_URL.get()
    base = contract.SPARK_UI_BASE.get() or (server.rstrip("/") + "/cygnet/spark-ui/" if server else "")
    return f"{base}{started['ui_port']}/" if base else started["ui_url"]


def server_conf(conf):
    """A managed server's JVM gives memory back to the machine when sessions end: G1 collects
    when idle every 15 s and uncommits the heap it no longer needs (Java 17's default collector
    otherwise keeps the peak for good). It shrinks the heap only while more than
    MaxHeapFreeRatio of it is free: at the default 70%, a server that used 120 of 400 MiB after
    its sessions ended (69% free) kept all 400 MiB; at 40% it keeps about 200."""
    options = conf.get("spark.driver.extraJavaOptions", "")
    release = "-XX:G1PeriodicGCInterval=15000 -XX:MinHeapFreeRatio=20 -XX:MaxHeapFreeRatio=40"
    return {**conf, "spark.driver.extraJavaOptions": f"{options} {release}".strip()}


def server_token(folder, server_id):
    """A new token for the server `server_id`, kept 0600 beside its state for its kernels."""
    token = new_token()
    write_token(Path(folder) / f"{server_id}.token", token)
    return token


def token_of(state):
    """The token of a recorded server, for a kernel that connects to it."""
    return read_token(servers_dir() / f"{state['id']}.token")


def release_session(url, session_id, user_id="", token=None):
    """Ask the Connect server to release a session (its plans, caches, memory); best effort:
    a server that is gone has nothing left to release."""
    try:
        from pyspark.sql.connect.client import SparkConnectClient

        url = f"{url}/;session_id={session_id}" + (f";user_id={user_id}" if user_id else "")
        client = SparkConnectClient(channel(url, token))
        try:
            client.release_session()
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - a server that is gone or refuses has nothing to give back
        pass


def read_states(folder):
    """The recorded servers; one recorded ready whose process is gone is reported failed (so
    neither a kernel nor the panel takes it for a server that answers)."""
    states = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if state["state"] == "ready" and not alive(state["pid"]):
            state.update(state="failed", error="the Spark Connect server exited; its log has the reason")
        states.append(state)
    return states


OWNER_ID = re.compile(r"^[0-9a-f]{8,64}$")


def hold_owner_lock(folder, owner):
    """Take the lock that says `owner` is alive (an open file, locked until closed or the process
    ends, however it ends)."""
    if not OWNER_ID.match(owner):
        raise BadInput(f"a managed servers' owner is hex digits, not {owner!r}")
    path = Path(folder) / "owners" / f"{owner}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 - held open for the owner's lifetime
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def owner_alive(folder, owner):
    """Whether the Cygnet server `owner` still runs (holds its lock)."""
    if not OWNER_ID.match(owner or ""):
        return False
    try:
        with open(Path(folder) / "owners" / f"{owner}.lock") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def _new_state(server_id, cluster, view, log_path, owner=""):
    return {
        "id": server_id,
        "owner": owner,
        "cluster": cluster,
        "view": view,
        "state": "starting",
        "pid": None,
        "url": None,
        "ui_url": None,
        "ui_port": None,
        "port": None,
        "log": str(log_path),
        "started": time.time(),
        "error": None,
    }


@contextlib.contextmanager
def _locked(path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
