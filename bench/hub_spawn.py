"""The multi-user service, side by side in one run on one machine:
  (a) the baseline: JupyterHub's own local-process spawner with a plain JupyterLab single-user
      server (Cygnet's extension off) and the venv's python3 kernel;
  (b) `cygnet hub`: Cygnet's spawner and form, the Cygnet server, a view's kernel.
Both hubs are the same JupyterHub with the same proxy and authenticator. Measured:
  - from the form's submit to the first kernel execute_reply, for 1 user and for 10 users at once;
  - the resident memory of one idle session (the server and its children, its notebook's kernel
    shut down; Cygnet's pooled kernel shown apart);
  - the share page through the hub (the cygnet-shares service behind the proxy), 50 viewers.
Goals: (b) spawn within 0.6x of (a) (issue 32; 1.2x before); 10 at once with no failure; idle memory within 1.2x of
(a); share page at least 1,000 requests/s with p99 under 200 ms.

    .venv/bin/python bench/hub_spawn.py [--runs 3] [--seconds 10]
The share page part needs wrk (apt-get install wrk).
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
import requests  # noqa: E402

from bench.share_view import analysis_notebook, wrk  # noqa: E402
from tests.support.hub import Hub  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view  # noqa: E402

PLATFORM = "x86_64-bench"
# JupyterHub's own single-user command, as a plain hub runs it (Cygnet's hub starts cygnet-singleuser).
PLAIN_SINGLEUSER = str(Path(sys.executable).parent / "jupyterhub-singleuser")
BASELINE_CONFIG = f"""
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [{PLAIN_SINGLEUSER!r}]
c.CygnetHub.shares = False
c.CygnetHub.cull_idle_timeout = 0
c.Spawner.args = ["--ServerApp.jpserver_extensions=cygnet.server=False", "--allow-root"]
"""


class Side:
    def __init__(self, name, hub, kernel, options):
        self.name, self.hub, self.kernel, self.options = name, hub, kernel, options
        self.users = 0

    def new_user(self):
        """A logged-in user of this hub with an API token: nothing of theirs is timed."""
        self.users += 1
        name = f"{self.name}{self.users}"
        web = self.hub.login(name)
        return name, web, self.hub.token(web, name)

    def spawn_and_wait(self, user, timeout=300, request_timeout=30, poll=0.05):
        """Submit the form (shown first, not timed) or open /hub/spawn, and wait until the session
        answers; the perf_counter() of the submit."""
        name, web, token = user
        api = self.hub.api(token)
        if self.options:  # the form is shown first (not timed), then submitted
            _, action = self.hub.spawn_form(web)
            started = time.perf_counter()
            r = web.post(action, data=self.options, timeout=timeout, allow_redirects=False)
        else:  # no form: opening /hub/spawn starts the session
            started = time.perf_counter()
            r = web.get(f"{self.hub.url}/hub/spawn", timeout=timeout, allow_redirects=False)
        if r.status_code != 302:
            raise RuntimeError(f"{name}: the spawn was refused: {r.status_code}")
        deadline = time.monotonic() + timeout
        self.until_ready(api, name, request_timeout)
        status_url = f"{self.hub.url}/user/{name}/api/status"
        while api.get(status_url, timeout=request_timeout, allow_redirects=False).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: no session after {timeout} s")
            time.sleep(poll)
        return started

    def until_ready(self, api, name, request_timeout):
        """Follow the spawn's progress events until it is ready (or raise if it failed), as JupyterHub's
        spawn-pending page does: a client that asked for the session every 0.05 s instead made
        ten spawning users 200 requests/s of the hub's own load, which the hub's API latency
        then measured."""
        url = f"{self.hub.url}/hub/api/users/{name}/server/progress"
        with api.get(url, stream=True, timeout=request_timeout) as r:
            if r.status_code != 200:
                return  # the caller's check of the session decides
            for line in r.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("failed"):  # counted as a failed spawn at once, not after the timeout
                        raise RuntimeError(f"{name}: the spawn failed: {event.get('message', '')}")
                    if event.get("ready"):
                        return

    def spawn_to_first_reply(self, user):
        """Seconds from the form's submit to the first execute_reply of a kernel in the session."""
        name, _, token = user
        started = self.spawn_and_wait(user)
        kernel = self.hub.kernel(name, token, self.kernel)
        status, _, err = kernel.execute("pass")
        elapsed = time.perf_counter() - started
        kernel.shutdown()
        if status != "ok":
            raise RuntimeError(f"{name}: the kernel failed: {err}")
        return elapsed

    def stop(self, user):
        self.hub.stop_session(self.hub.api(user[2]), user[0], timeout=120)


def session_rss(user_name):
    """Resident bytes of `user_name`'s single-user server and its children, and of the kernels
    among them (after its notebook's kernel is shut down, only a pooled kernel is left)."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "-singleuser" not in " ".join(proc.info["cmdline"] or []):  # JupyterHub's or Cygnet's
                continue
            if proc.environ().get("JUPYTERHUB_USER") != user_name:
                continue
            processes = [proc, *proc.children(recursive=True)]
            kernels = [p for p in processes if "ipykernel_launcher" in " ".join(p.cmdline())]
            return sum(p.memory_info().rss for p in processes), sum(p.memory_info().rss for p in kernels)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise RuntimeError(f"no session process of {user_name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="single-user spawns per side (default 3)")
    parser.add_argument("--crowd", type=int, default=10, help="users spawning at once (default 10)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load on the share page")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-hub-"))
    print(f"building a view with ipykernel in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    env = {"CYGNET_VIEWS_PATH": str(tmp / "views")}
    baseline_config = tmp / "baseline_config.py"
    baseline_config.write_text(BASELINE_CONFIG)
    hubs = {
        "plain": Hub(tmp / "plain" / "data", env=env, args=[f"--config={baseline_config}", "--log-level=WARN"]),
        "cygnet": Hub(tmp / "cygnet" / "data", env=env, args=["--log-level=WARN"]),
    }
    sides = {
        "plain": Side("plain", hubs["plain"], "python3", {}),
        "cygnet": Side("cygnet", hubs["cygnet"], kernel_name("LCG_bench", PLATFORM), {"view": f"LCG_bench/{PLATFORM}"}),
    }
    single, crowd, crowd_failures, memory, pooled = {}, {}, {}, {}, {}
    try:
        for hub in hubs.values():
            hub.start()
        for side in sides.values():  # one spawn each first: the OS's caches are warm for both
            user = side.new_user()
            side.spawn_to_first_reply(user)
            cygnet_api = side.hub.api(user[2]).get(f"{side.hub.url}/user/{user[0]}/cygnet/api/views", timeout=30)
            if (cygnet_api.status_code == 200) != (side.name == "cygnet"):
                raise SystemExit(
                    f"{side.name}: Cygnet's extension is {'on' if cygnet_api.ok else 'off'}: not a fair run"
                )
            side.stop(user)
        for name in sides:
            single[name] = []
        for run in range(args.runs):
            for name in ["plain", "cygnet"] if run % 2 == 0 else ["cygnet", "plain"]:
                side = sides[name]
                user = side.new_user()
                single[name].append(side.spawn_to_first_reply(user))
                if run == 0:  # the idle session's memory: no kernel, settled
                    time.sleep(3)
                    memory[name], pooled[name] = session_rss(user[0])
                side.stop(user)
            print(f"run {run + 1}: " + "  ".join(f"{k}={v[-1]:.2f}s" for k, v in single.items()), file=sys.stderr)
        for name, side in sides.items():
            users = [side.new_user() for _ in range(args.crowd)]
            with ThreadPoolExecutor(args.crowd) as pool:
                futures = [pool.submit(side.spawn_to_first_reply, u) for u in users]
                times, failures = [], 0
                for f in futures:
                    try:
                        times.append(f.result())
                    except Exception as e:  # noqa: BLE001 - counted and shown
                        failures += 1
                        print(f"{name}: a spawn failed: {e}", file=sys.stderr)
                list(pool.map(side.stop, users))
            crowd[name], crowd_failures[name] = times, failures
        share_rps, share_p99 = share_page(sides["cygnet"], args.seconds)
    finally:
        for hub in hubs.values():
            hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in single.items()}
    print(f"\nform submit to first execute_reply, median of {args.runs} spawns")
    print(f"  (a) plain spawner + JupyterLab   {med['plain']:.2f} s")
    print(f"  (b) cygnet hub                   {med['cygnet']:.2f} s")
    ratio = med["cygnet"] / med["plain"]
    print(f"  (b)/(a) = {ratio:.2f}   goal <= 0.6  {'met' if ratio <= 0.6 else 'MISSED'}")
    print(f"\n{args.crowd} users at once: median / slowest, failures")
    for name, label in (("plain", "(a)"), ("cygnet", "(b)")):
        t = crowd[name]
        shown = f"{statistics.median(t):.2f} s / {max(t):.2f} s" if t else "none finished"
        print(f"  {label} {shown}, {crowd_failures[name]} failed")
    print(
        f"  goal: no failure  {'met' if crowd_failures['cygnet'] == 0 else 'MISSED'}"
        f" ({crowd_failures['cygnet']} of {args.crowd} failed)"
    )
    # The notebook's kernel is shut down; Cygnet's session keeps a pooled kernel (cygnet.kernels.pool),
    # memory traded for the next notebook's start on purpose, so it is shown apart.
    server = {name: memory[name] - pooled[name] for name in memory}
    mem_ratio = server["cygnet"] / server["plain"]
    print("\nidle session, resident memory (server and children, the notebook's kernel shut down)")
    print(f"  (a) {server['plain'] / 2**20:.0f} MiB   (b) {server['cygnet'] / 2**20:.0f} MiB without kernels")
    print(f"  (b)/(a) = {mem_ratio:.2f}   goal <= 1.2  {'met' if mem_ratio <= 1.2 else 'MISSED'}")
    print(f"  (b)'s pooled kernel: {pooled['cygnet'] / 2**20:.0f} MiB more ((a) {pooled['plain'] / 2**20:.0f} MiB)")
    if share_rps is not None:
        print(f"\nshare page through the hub (cygnet-shares), 50 viewers, {args.seconds} s")
        print(f"  {share_rps:.0f} req/s, p99 {share_p99:.1f} ms")
        print(
            f"  goal >= 1000 req/s: {'met' if share_rps >= 1000 else 'MISSED'} ({share_rps:.0f}); "
            f"p99 < 200 ms: {'met' if share_p99 < 200 else 'MISSED'} ({share_p99:.1f} ms)"
        )


def share_page(side, seconds):
    """req/s and p99 of one share page through the proxy, from wrk; (None, None) without wrk."""
    if not shutil.which("wrk"):
        print("wrk is not installed: the share page is not measured (apt-get install wrk)", file=sys.stderr)
        return None, None
    user = side.new_user()
    name, web, token = user
    side.spawn_to_first_reply(user)
    api = side.hub.api(token)
    base = f"{side.hub.url}/user/{name}"
    notebook = {"type": "file", "format": "text", "content": analysis_notebook()}
    api.put(f"{base}/api/contents/analysis.ipynb", json=notebook, timeout=60).raise_for_status()
    share = api.post(f"{base}/cygnet/api/shares", json={"path": "analysis.ipynb"}, timeout=60).json()
    requests.get(share["url"], timeout=60).raise_for_status()  # rendered once, then cached
    side.stop(user)  # the page is served with the owner's session stopped
    return wrk(share["url"], seconds, ["Accept-Encoding: gzip"])


if __name__ == "__main__":
    main()
