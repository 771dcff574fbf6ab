"""Sharing a running session, timed on one real `cygnet hub` (two users, the owner's session up,
the colleague holding a kernel websocket open in it), side by side in one run:
  (a) JupyterHub's own shares API, called directly (POST/PATCH /hub/api/shares/...): what a site
      without Cygnet's dialog has;
  (b) Cygnet's Share session (POST/DELETE /cygnet/api/session/shares), which also drops the
      session's cached hub answers about the colleague and closes their websockets.
Measured from the owner's call: grant-to-access (the colleague's first 200 from the session, after
a 403 before the grant), revoke-to-cutoff (their next request refused) and, for the websocket
they hold open, revoke-to-closed. A side that has not cut off after --wait seconds is reported
as "> wait" (the session caches the hub's answer for HubAuth.cache_max_age, 300 s).
Goal: (b) grant-to-access and revoke-to-cutoff under 2 s each.

    .venv/bin/python bench/session_share.py [--runs 5] [--wait 10]
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websocket  # noqa: E402

from tests.support.hub import Hub  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view  # noqa: E402

PLATFORM = "x86_64-bench"


def until(condition, wait):
    """Seconds until `condition()` holds, polled tightly; None after `wait` seconds."""
    started = time.perf_counter()
    while time.perf_counter() - started < wait:
        if condition():
            return time.perf_counter() - started
        time.sleep(0.01)
    return None


def closed(ws):
    ws.settimeout(0.05)
    try:
        ws.recv()
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketConnectionClosedException, OSError):
        return True
    return not ws.connected


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wait", type=float, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-share-"))
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    hub = Hub(tmp / "data", env={"CYGNET_VIEWS_PATH": str(tmp / "views")}, args=["--log-level=WARN"]).start()
    results = {"hub API": [], "Cygnet": []}
    try:
        owner_web = hub.login("owner")
        owner = hub.api(hub.token(owner_web, "owner"))
        colleague_web = hub.login("colleague")
        hub.start_session(owner_web, "owner", {"view": f"LCG_bench/{PLATFORM}"})
        status = f"{hub.url}/user/owner/api/status"
        raw = f"{hub.url}/hub/api/shares/owner/"
        mine = f"{hub.url}/user/owner/cygnet/api/session/shares"
        sides = {
            "hub API": (
                lambda: owner.post(raw, json={"user": "colleague"}, timeout=30),
                lambda: owner.patch(raw, json={"user": "colleague"}, timeout=30),
            ),
            "Cygnet": (
                lambda: owner.post(mine, json={"users": ["colleague"]}, timeout=30),
                lambda: owner.delete(f"{mine}/colleague", timeout=30),
            ),
        }
        for _ in range(args.runs):
            for name, (grant, revoke) in sides.items():
                # The session caches the hub's answer per token: a fresh token for each phase, so a
                # stale answer of one run (the baseline's) never carries into the next.
                before = hub.api(hub.token(colleague_web, "colleague"))
                assert before.get(status, timeout=30).status_code == 403  # knocks first: the session remembers
                started = time.perf_counter()
                grant().raise_for_status()
                access = until(lambda c=before: c.get(status, timeout=30).status_code == 200, args.wait)
                granted_after = None if access is None else time.perf_counter() - started
                token = hub.token(colleague_web, "colleague")
                during = hub.api(token)
                kernel = hub.kernel("owner", token, kernel_name("LCG_bench", PLATFORM))
                assert during.get(status, timeout=30).status_code == 200
                started = time.perf_counter()
                revoke().raise_for_status()
                cut = until(lambda c=during: c.get(status, timeout=30).status_code == 403, args.wait)
                cut_after = None if cut is None else time.perf_counter() - started
                left = max(0.1, args.wait - (time.perf_counter() - started))
                ws_closed = until(partial(closed, kernel.ws), left)
                ws_after = None if ws_closed is None else time.perf_counter() - started
                results[name].append((granted_after, cut_after, ws_after))
                kernel.ws.close()
                owner.delete(f"{hub.url}/user/owner/api/kernels/{kernel.id}", timeout=30)
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{args.runs} grants and revokes per side; medians; '> {args.wait:.0f} s' = not within the wait")
    print(f"{'':10s} {'grant-to-access':>16s} {'revoke-to-403':>14s} {'revoke-to-ws-closed':>20s}")
    medians = {}
    for name, rows in results.items():
        columns = [[r[i] for r in rows] for i in range(3)]
        medians[name] = [None if None in values else statistics.median(values) for values in columns]
        texts = [f"> {args.wait:.0f} s" if m is None else f"{m * 1000:.0f} ms" for m in medians[name]]
        print(f"{name:10s} {texts[0]:>16s} {texts[1]:>14s} {texts[2]:>20s}")
    grant, cut, _ = medians["Cygnet"]
    ok = grant is not None and cut is not None and grant < 2 and cut < 2
    shown = [f"{v * 1000:.0f} ms" if v is not None else "none" for v in (grant, cut)]
    print(f"goal grant and revoke under 2 s: {'met' if ok else 'MISSED'} (grant {shown[0]}, revoke {shown[1]})")


if __name__ == "__main__":
    main()
