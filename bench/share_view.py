"""Fifty concurrent viewers of one shared notebook, side by side in one run:
  (a) Jupyter's own /files/ handler serving the raw .ipynb to a logged-in user (the floor: a
      static file through the same server, no rendering);
  (b) the public share page /cygnet/s/{token} (rendered once, then from the cache; gzip, as
      browsers ask for it);
and the cost of one uncached rendering, which every view would pay without the cache.
Load from `wrk` (one thread, 50 connections) on the same 2 cores as the server.
Goal: (b) at least 500 requests/s with p99 under 200 ms.

    .venv/bin/python bench/share_view.py [--seconds 10] [--runs 3]
Needs wrk (apt-get install wrk).
"""

import argparse
import base64
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402
import requests  # noqa: E402

from tests.support.jupyter import JupyterServer  # noqa: E402


def png(width, height, seed):
    """A real PNG of noisy pixels (about width*height*3 bytes): a plot-sized output."""
    import random
    import struct

    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def analysis_notebook():
    """30 cells of a typical analysis: markdown, code, printed output, a table, five plots."""
    cells = []
    for i in range(10):
        cells.append(nbformat.v4.new_markdown_cell(f"## Step {i}\nSelect events with $p_T > {i * 10}$ GeV."))
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"selected {1000 - i * 37} events\n")]
        if i % 2 == 0:
            outputs.append(
                nbformat.v4.new_output(
                    "display_data",
                    data={"image/png": base64.b64encode(png(160, 80, i)).decode(), "text/plain": "<Figure>"},
                )
            )
        cells.append(nbformat.v4.new_code_cell(f"h{i} = df[df.pt > {i * 10}]\nplot(h{i})", outputs=outputs))
        table = "".join(f"<tr><td>{r}</td><td>{r * 1.5:.2f}</td></tr>" for r in range(20))
        cells.append(
            nbformat.v4.new_code_cell(
                f"h{i}.describe()",
                outputs=[
                    nbformat.v4.new_output(
                        "execute_result",
                        execution_count=i,
                        data={"text/html": f"<table>{table}</table>", "text/plain": "t"},
                    )
                ],
            )
        )
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nbformat.writes(nb)


def wrk(url, seconds, headers):
    cmd = ["wrk", "-t1", "-c50", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses\n{out}")
    return rps, p99


def _ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/share_view.py needs wrk: apt-get install wrk")

    workspace, data = Path(tempfile.mkdtemp()), tempfile.mkdtemp()
    (workspace / "analysis.ipynb").write_text(analysis_notebook())
    with JupyterServer(env={"CYGNET_DATA_DIR": data}, root=workspace, args=["--log-level=WARN"]) as server:
        renders = []
        for _ in range(args.runs):  # a new share each time: its first view renders
            share = server.post("/cygnet/api/shares", json={"path": "analysis.ipynb"}).json()
            started = time.perf_counter()
            page = requests.get(share["url"], timeout=60)
            renders.append(time.perf_counter() - started)
        page.raise_for_status()
        gz = requests.get(share["url"], headers={"Accept-Encoding": "gzip"}, stream=True, timeout=60)
        page_bytes, wire_bytes = len(page.content), len(gz.raw.read())
        raw_url = f"{server.url}/files/analysis.ipynb"
        results = {"files": [], "share": []}
        for _ in range(args.runs):
            results["files"].append(
                wrk(raw_url, args.seconds, [f"Authorization: token {server.token}", "Accept-Encoding: gzip"])
            )
            results["share"].append(wrk(share["url"], args.seconds, ["Accept-Encoding: gzip"]))

    notebook_bytes = (workspace / "analysis.ipynb").stat().st_size
    print(
        f"notebook {notebook_bytes / 1024:.0f} KiB; share page {page_bytes / 1024:.0f} KiB "
        f"({wire_bytes / 1024:.0f} KiB gzipped); {args.runs} runs of {args.seconds} s, 50 connections"
    )
    print(
        f"first view (render, uncached): median {statistics.median(renders) * 1000:.0f} ms "
        f"-> at most {1 / statistics.median(renders):.0f} views/s per core without the cache"
    )
    rows = {}
    for name, label in (("files", "(a) /files/ raw notebook, logged in"), ("share", "(b) /cygnet/s/ share page")):
        rps = statistics.median(r for r, _ in results[name])
        p99 = statistics.median(p for _, p in results[name])
        rows[name] = (rps, p99)
        print(f"{label:40s} {rps:8.0f} req/s   p99 {p99:7.1f} ms")
    rps, p99 = rows["share"]
    print(f"ratio (b)/(a) req/s: {rps / rows['files'][0]:.2f}")
    print(
        f"goal >= 500 req/s: {'met' if rps >= 500 else 'missed'} ({rps:.0f}); "
        f"p99 < 200 ms: {'met' if p99 < 200 else 'missed'} ({p99:.1f} ms)"
    )


if __name__ == "__main__":
    main()
