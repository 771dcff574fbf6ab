"""A hundred users on one hub, on this machine:

  1. `--users` users (100) log in and spawn through the form in waves of `--wave` (10); each
     opens a kernel on the view and runs a cell, which stays (an idle notebook);
  2. then `--workers` (10) of them work for `--work-seconds` (30 s): a CPU-bound cell over and
     over, a 1 MiB file written and read back through the contents API, a share made and its
     public page viewed, round robin;
  3. all the while, a poller asks the hub's REST API (`GET /hub/api/users/<name>`) every 0.1 s.

The baseline is the same JupyterHub and proxy with the plain local-process spawner and a plain
JupyterLab server (Cygnet's extension off) and the venv's python3 kernel, `--baseline` (10)
sessions, each with a kernel that ran a cell: its idle session memory per session.
Goals: 0 failed spawns; hub API p99 under 200 ms in every phase; Cygnet's idle session (server,
children and its notebook's kernel) within 1.1x of the plain one's; the machine's memory use per
session is reported. The benchmark stops every session and both hubs itself.

    .venv/bin/python bench/hub_load.py [--users 100] [--wave 10] [--workers 10] [--work-seconds 30]
"""

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
import requests  # noqa: E402

from bench.hub_spawn import BASELINE_CONFIG, Side  # noqa: E402
from tests.support.hub import Hub  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view  # noqa: E402

PLATFORM = "x86_64-bench"
HUB_CONFIG = """
c.CygnetHub.cull_idle_timeout = 0
c.Spawner.start_timeout = 600
c.Spawner.http_timeout = 600
# A session that hangs prints its threads' stacks on SIGABRT (stop_all sends it one).
c.Spawner.environment.update({"PYTHONFAULTHANDLER": "1"})
"""
CPU_CELL = "sum(i * i for i in range(2_000_000))"


class Poller(threading.Thread):
    """The hub's REST API asked every 0.1 s; latencies (ms) by phase."""

    def __init__(self, hub, user):
        super().__init__(daemon=True)
        self.hub, self.name, self.token = hub, user[0], user[2]
        self.phase, self.samples, self.errors = "spawn", {}, 0
        self.running = True

    def run(self):
        session = requests.Session()
        session.headers["Authorization"] = f"token {self.token}"
        while self.running:
            started = time.perf_counter()
            try:
                ok = session.get(f"{self.hub.url}/hub/api/users/{self.name}", timeout=30).ok
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            self.samples.setdefault(self.phase, []).append(elapsed)
            self.errors += 0 if ok else 1
            time.sleep(max(0.0, 0.1 - elapsed / 1000))


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def sessions_rss(prefix, notebook_kernels=None):
    """{user: (resident bytes of the server and its children, of pooled kernels among them)} for
    `prefix`*: a kernel that is not the user's notebook's (`notebook_kernels`: user -> kernel id)
    is the kernel pool's, counted apart."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "-singleuser" not in " ".join(proc.info["cmdline"] or []):  # JupyterHub's or Cygnet's
                continue
            user = proc.environ().get("JUPYTERHUB_USER", "")
            if not user.startswith(prefix):
                continue
            tree = [proc, *proc.children(recursive=True)]
            mine = (notebook_kernels or {}).get(user)
            pooled = [
                t for t in tree if "ipykernel" in " ".join(t.cmdline()) and mine and mine not in " ".join(t.cmdline())
            ]
            pooled_rss = sum(t.memory_info().rss for t in pooled)
            found[user] = (sum(t.memory_info().rss for t in tree) - pooled_rss, pooled_rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def reconnected(kernel):
    """A new websocket to the same kernel (an idle one's may have been closed: the client did not
    answer the server's pings while nobody read from it)."""
    from tests.support.jupyter import KernelClient

    try:
        kernel.ws.close()
    except Exception:  # noqa: BLE001 - closed already
        pass
    return KernelClient(kernel.server, kernel.id)


class LoadSide(Side):
    reconnects = 0

    def spawn_to_first_reply_keeping(self, user):
        """As Side.spawn_to_first_reply, but the kernel stays, idle, as an open notebook's."""
        name, _, token = user
        started = self.spawn_and_wait(user, timeout=600, request_timeout=60, poll=0.2)
        kernel = self.hub.kernel(name, token, self.kernel)
        try:
            status, _, err = kernel.execute("x = 1", timeout=300)
        except Exception:  # noqa: BLE001 - the websocket dropped: JupyterLab connects again, so does this
            self.reconnects += 1
            kernel = reconnected(kernel)
            status, _, err = kernel.execute("x = 1", timeout=300)
        if status != "ok":
            raise RuntimeError(f"{name}: the kernel failed: {err}")
        return time.perf_counter() - started, kernel


def work(side, user, kernel, index, until):
    """One working user's round robin until `until`: a CPU cell, a file through the contents API,
    a share page. Counts of each done, and failures."""
    name, _, token = user
    api = side.hub.api(token)
    base = f"{side.hub.url}/user/{name}"
    done, failed, share_url = {"cell": 0, "file": 0, "share page": 0}, 0, None
    try:
        kernel = reconnected(kernel)  # the notebook comes back to its kernel, as JupyterLab does
    except Exception as e:  # noqa: BLE001 - counted and shown; the other users go on
        print(f"{name}: its kernel's websocket did not open again: {e!r}", file=sys.stderr)
        return done, 1
    payload = {"type": "file", "format": "text", "content": "x" * 2**20}
    # The file exists before the first turn: a user whose round starts with the share page
    # (every third) shared a file not written yet, three failures of the benchmark's own.
    api.put(f"{base}/api/contents/load.txt", json=payload, timeout=60)
    turn = index
    while time.monotonic() < until:
        kind = ("cell", "file", "share page")[turn % 3]
        turn += 1
        try:
            if kind == "cell":
                ok = kernel.execute(CPU_CELL, timeout=120)[0] == "ok"
            elif kind == "file":
                ok = api.put(f"{base}/api/contents/load.txt", json=payload, timeout=60).ok
                ok = ok and len(api.get(f"{base}/api/contents/load.txt", timeout=60).json()["content"]) == 2**20
            else:
                if share_url is None:
                    r = api.post(f"{base}/cygnet/api/shares", json={"path": "load.txt"}, timeout=60)
                    share_url = r.json().get("url") if r.ok else None
                ok = share_url is not None and requests.get(share_url, timeout=60).ok
            done[kind] += 1 if ok else 0
            failed += 0 if ok else 1
        except Exception:  # noqa: BLE001 - counted
            failed += 1
    return done, failed


def spawn_all(side, users, wave):
    """Spawn `users` in waves; the kernels and failures."""
    kernels, failures, times = {}, [], []
    for start in range(0, len(users), wave):
        batch = users[start : start + wave]
        with ThreadPoolExecutor(len(batch)) as pool:
            futures = {pool.submit(side.spawn_to_first_reply_keeping, u): u for u in batch}
            for future, user in futures.items():
                try:
                    seconds, kernel = future.result()
                    kernels[user[0]] = kernel
                    times.append(seconds)
                except Exception as e:  # noqa: BLE001 - counted and shown
                    failures.append(f"{user[0]}: {e}")
        print(
            f"{side.name}: {len(kernels)} sessions up, {len(failures)} failed; "
            f"machine memory used {psutil.virtual_memory().used / 2**30:.1f} GiB",
            file=sys.stderr,
            flush=True,
        )
    return kernels, failures, times


def session_process(user):
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "-singleuser" in " ".join(proc.info["cmdline"] or []) and proc.environ().get("JUPYTERHUB_USER") == user:
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def stop_all(side, users, kernels):
    def stop(user):
        try:
            answer = kernels[user[0]].shutdown()
            if answer.status_code >= 400:
                raise RuntimeError(f"{answer.status_code} {answer.text[:200]}")
        except Exception as e:  # noqa: BLE001 - the session is stopped anyway; a hung one is shown
            print(f"{user[0]}: its kernel's DELETE failed: {e}", file=sys.stderr)
            proc = session_process(user[0])
            if proc is not None:  # its stacks (PYTHONFAULTHANDLER) go to the hub's log
                proc.send_signal(signal.SIGABRT)
                print(f"{user[0]}: the session's stacks are in {side.hub.log_path}", file=sys.stderr)
        try:
            side.stop(user)
        except Exception as e:  # noqa: BLE001 - the hub's own stop ends it at the latest
            print(f"{user[0]}: {e}", file=sys.stderr)

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(stop, [u for u in users if u[0] in kernels]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--wave", type=int, default=10)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--work-seconds", type=float, default=30)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--baseline", type=int, default=10, help="plain sessions for the memory baseline")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-load-"))
    print(f"building a view with ipykernel in {tmp} ...", file=sys.stderr)
    lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=built_kernel_site(tmp / "built", PLATFORM))
    env = {"CYGNET_VIEWS_PATH": str(tmp / "views")}
    (tmp / "plain.py").write_text(BASELINE_CONFIG)
    (tmp / "cygnet.py").write_text(HUB_CONFIG)
    memory_before = psutil.virtual_memory().used

    # The baseline's idle session memory.
    plain_hub = Hub(tmp / "plain" / "data", env=env, args=[f"--config={tmp / 'plain.py'}", "--log-level=WARN"])
    plain_hub.start()
    try:
        plain = LoadSide("plainload", plain_hub, "python3", {})
        plain_poller = Poller(plain_hub, plain.new_user())  # the baseline hub's API under its own wave
        plain_poller.start()
        plain_users = [plain.new_user() for _ in range(args.baseline)]
        plain_kernels, plain_failures, _ = spawn_all(plain, plain_users, args.wave)
        plain_poller.running = False
        time.sleep(args.idle_seconds)  # settled, as the Cygnet side's idle phase
        plain_rss = sessions_rss("plainload")
        stop_all(plain, plain_users, plain_kernels)
    finally:
        plain_hub.stop()

    hub = Hub(tmp / "cygnet" / "data", env=env, args=[f"--config={tmp / 'cygnet.py'}", "--log-level=WARN"])
    hub.start()
    ours = LoadSide("load", hub, kernel_name("LCG_bench", PLATFORM), {"view": f"LCG_bench/{PLATFORM}"})
    users, kernels, failures, results = [], {}, [], []
    poller = None
    try:
        poller = Poller(hub, ours.new_user())
        poller.start()
        users = [ours.new_user() for _ in range(args.users)]
        started = time.monotonic()
        kernels, failures, spawn_times = spawn_all(ours, users, args.wave)
        spawned_in = time.monotonic() - started
        machine_used = psutil.virtual_memory().used - memory_before

        poller.phase = "work"
        until = time.monotonic() + args.work_seconds
        working = [u for u in users if u[0] in kernels][: args.workers]
        with ThreadPoolExecutor(max(1, len(working))) as pool:
            results = list(pool.map(lambda iu: work(ours, iu[1], kernels[iu[1][0]], iu[0], until), enumerate(working)))
        poller.phase = "idle"
        time.sleep(args.idle_seconds)
        rss = sessions_rss("load", {user: kernel.id for user, kernel in kernels.items()})
    finally:
        if poller is not None:
            poller.running = False
        stop_all(ours, users, kernels)
        hub.stop()
        if failures or any(r[1] for r in results):  # the hub's and sessions' log tell why
            print(f"kept for its logs: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    done = {k: sum(r[0][k] for r in results) for k in ("cell", "file", "share page")}
    work_failures = sum(r[1] for r in results)
    per_session = statistics.median(v[0] for v in rss.values()) if rss else float("nan")
    plain_per_session = statistics.median(v[0] for v in plain_rss.values()) if plain_rss else float("nan")
    print(f"\n{args.users} users in waves of {args.wave}: {len(kernels)} sessions up in {spawned_in:.0f} s, "
          f"{len(failures)} failed")  # fmt: skip
    for failure in failures[:5]:
        print(f"  {failure[:200]}")
    if spawn_times:
        print(f"  form submit to first execute_reply: median {statistics.median(spawn_times):.1f} s, "
              f"slowest {max(spawn_times):.1f} s")  # fmt: skip
    print(f"  goal: no failed spawn  {'met' if not failures else 'MISSED'} ({len(failures)} failed)")
    print(f"  kernel websockets that dropped during the first cell and were opened again: {ours.reconnects}")
    print(f"\n{len(working)} users working for {args.work_seconds:.0f} s: {done}, {work_failures} failed")
    print("\nhub API (GET /hub/api/users/<name>, every 0.1 s)")
    worst = 0.0
    for phase in ("spawn", "work", "idle"):
        values = poller.samples.get(phase, [])
        worst = max(worst, p(values, 0.99))
        print(f"  {phase:6} {len(values):5} requests  p50 {p(values, 0.5):6.1f} ms  p99 {p(values, 0.99):7.1f} ms")
    print(f"  errors: {poller.errors}")
    baseline = plain_poller.samples.get("spawn", [])
    print(
        f"  the plain hub while its {args.baseline} sessions spawned (waves of {args.wave}): "
        f"p50 {p(baseline, 0.5):.1f} ms  p99 {p(baseline, 0.99):.1f} ms"
    )
    print(f"  goal p99 < 200 ms in every phase: {'met' if worst < 200 else 'MISSED'} (worst {worst:.0f} ms)")
    ratio = per_session / plain_per_session
    print("\nidle session with its notebook's kernel, resident memory (median)")
    print(f"  plain JupyterLab + python3: {plain_per_session / 2**20:.0f} MiB ({len(plain_rss)} sessions)")
    print(f"  Cygnet + a view's kernel:   {per_session / 2**20:.0f} MiB ({len(rss)} sessions)")
    print(f"  Cygnet/plain = {ratio:.2f} (goal <= 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")
    pooled = statistics.median(v[1] for v in rss.values()) if rss else float("nan")
    print(f"  Cygnet's pooled kernel, apart (kernel_pool_size=1): {pooled / 2**20:.0f} MiB per session")
    print(
        f"  the machine's memory use grew {machine_used / 2**30:.1f} GiB for {len(kernels)} sessions: "
        f"{machine_used / max(1, len(kernels)) / 2**20:.0f} MiB per session (the hub, proxy and caches included)"
    )
    total = psutil.virtual_memory().total
    print(f"  at that rate {total / max(1.0, machine_used / max(1, len(kernels))):.0f} sessions fill this machine's "
          f"{total / 2**30:.0f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
