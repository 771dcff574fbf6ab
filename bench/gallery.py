"""Fifty concurrent viewers of the site's gallery, side by side in one run, all from one real
`cygnet-shares` service process (its app, its store, 50 published notebooks with figures):
  (a) a share page, /s/{token} (the page share links have served since the first round: the
      baseline the gallery is held to);
  (b) the gallery's list, /gallery (50 cards with thumbnails' links, from the page cache);
  (c) a search, /gallery?q=... ;
  (d) one notebook's gallery page, /gallery/{id}.
Load from `wrk` (one thread, 50 connections) on the same 2 cores as the service.
Goal: (b) at least 1,000 requests/s with p99 under 200 ms.

    .venv/bin/python bench/gallery.py [--seconds 10] [--runs 3] [--entries 50]
Needs wrk (apt-get install wrk).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.share_view import analysis_notebook, wrk  # noqa: E402
from tests.support.jupyter import free_port  # noqa: E402

SERVE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from tornado import ioloop
    from cygnet.hub.shares_service import Service, make_app
    from cygnet.shares.store import ShareStore

    folder, port, entries = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    store = ShareStore(folder / "shares.sqlite", str(folder / "snapshots"), folder / "ws")
    service = Service(store, "/services/cygnet-shares/", "/")
    made = []
    for i in range(entries):
        share, token = store.create(f"analysis-{i}.ipynb", f"user{i % 7}")
        service.gallery.publish(share.id, share.owner, f"Analysis {i}", f"selection step {i} of the muon study")
        made.append({"id": share.id, "token": token})
    (folder / "made.json").write_text(json.dumps(made))
    make_app(service).listen(port, "127.0.0.1")
    ioloop.IOLoop.current().start()
    """
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/gallery.py needs wrk: apt-get install wrk")

    folder = Path(tempfile.mkdtemp(prefix="cygnet-bench-gallery-"))
    (folder / "ws").mkdir()
    text = analysis_notebook()
    for i in range(args.entries):
        (folder / "ws" / f"analysis-{i}.ipynb").write_text(text)
    port = free_port()
    service = subprocess.Popen([sys.executable, "-c", SERVE, str(folder), str(port), str(args.entries)])
    base = f"http://127.0.0.1:{port}/services/cygnet-shares/"
    try:
        deadline = time.monotonic() + 120
        while not (folder / "made.json").exists() or not _up(base):
            if time.monotonic() > deadline or service.poll() is not None:
                sys.exit("the share service did not start")
            time.sleep(0.2)
        import json

        made = json.loads((folder / "made.json").read_text())
        urls = {
            "share": f"{base}s/{made[0]['token']}",
            "gallery": f"{base}gallery",
            "search": f"{base}gallery?q=muon+step+1",
            "page": f"{base}gallery/{made[0]['id']}",
        }
        started = time.perf_counter()
        first = requests.get(urls["gallery"], timeout=120)
        first.raise_for_status()
        first_ms = (time.perf_counter() - started) * 1000
        for url in urls.values():  # each page rendered once before it is measured
            requests.get(url, timeout=120).raise_for_status()
        results = {name: [] for name in urls}
        for _ in range(args.runs):
            for name, url in urls.items():
                results[name].append(wrk(url, args.seconds, ["Accept-Encoding: gzip"]))
    finally:
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"{args.entries} published notebooks; first (uncached) gallery list: {first_ms:.0f} ms; "
        f"{args.runs} runs of {args.seconds} s, 50 connections"
    )
    rows = {}
    for name, label in (
        ("share", "(a) share page /s/{token}"),
        ("gallery", "(b) gallery list"),
        ("search", "(c) gallery search"),
        ("page", "(d) a notebook's gallery page"),
    ):
        rps = statistics.median(r for r, _ in results[name])
        p99 = statistics.median(p for _, p in results[name])
        rows[name] = (rps, p99)
        print(f"{label:36s} {rps:8.0f} req/s   p99 {p99:7.1f} ms   ({rps / rows['share'][0]:.2f}x of (a))")
    rps, p99 = rows["gallery"]
    print(
        f"goal >= 1000 req/s: {'met' if rps >= 1000 else 'missed'} ({rps:.0f}); "
        f"p99 < 200 ms: {'met' if p99 < 200 else 'missed'} ({p99:.1f} ms)"
    )


def _up(base):
    try:
        return requests.get(base + "health", timeout=5).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
