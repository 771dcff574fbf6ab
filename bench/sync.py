"""Box sync, side by side in one run, on 10,000 small files plus a few large ones:
  local box:  rsync -a, rclone sync, cygnet sync
  WebDAV box: rclone sync, cygnet sync       (wsgidav + cheroot on 127.0.0.1, basic auth)
  XRootD box: cygnet sync                    (Debian's xrootd on 127.0.0.1; rclone has no XRootD)
for a first sync, a no-op sync and a sync after changing 10 files; and large-file throughput
against a plain copy (cp -r locally, one webdav4 PUT per file over WebDAV from a fresh Python
process, xrdcp -r to XRootD).
Large-file throughput is given twice: end to end (the `cygnet` process, its ~0.25 s of
interpreter start and imports included) and for the transfer (the sync's own time, from its
--json summary: walk, journal, hashes, listings and uploads, without the interpreter start).
Goals: no-op and 10-change syncs faster than rclone on the same backend; large-file
throughput at least 90% of a plain copy.

    .venv/bin/python bench/sync.py [--files 10000] [--large 3] [--large-mb 256] [--runs 3]
Needs rsync and rclone (apt-get install rsync rclone), xrootd-server and xrootd-client.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.jupyter import VENV_BIN  # noqa: E402
from tests.support.webdav import start_wsgidav  # noqa: E402
from tests.support.xrootd import XRootDServer  # noqa: E402

USER, PASSWORD = "bench", "bench-pass"


def make_tree(folder, files, large, large_mb):
    rng = random.Random(7)
    for i in range(files):
        path = folder / f"d{i % 100:02d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(500, 4000)))
    for i in range(large):
        (folder / "large").mkdir(exist_ok=True)
        with open(folder / "large" / f"big{i}.bin", "wb") as f:
            for _ in range(large_mb):
                f.write(os.urandom(1 << 20))


def change_ten(folder, round_):
    for i in range(10):
        path = folder / f"d{i:02d}" / f"f{i:05d}.txt"
        data = bytearray(path.read_bytes())
        data[0] = (data[0] + round_ + 1) % 256  # same size, new content
        path.write_bytes(bytes(data))


def timed(cmd, env=None):
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def timed_sync(cmd, env):
    """(end-to-end seconds, the sync's own seconds from its JSON summary)."""
    started = time.perf_counter()
    out = subprocess.run([*cmd, "--json"], check=True, capture_output=True, text=True, env={**os.environ, **env})
    return time.perf_counter() - started, json.loads(out.stdout)["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--large-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--backends",
        default="local,WebDAV,XRootD",
        help="which boxes to measure, comma-separated (local, WebDAV, XRootD)",
    )
    args = parser.parse_args()
    backends = [b for b in ("local", "WebDAV", "XRootD") if b.lower() in args.backends.lower().split(",")]
    for tool, package in (
        ("rsync", "rsync"),
        ("rclone", "rclone"),
        ("xrootd", "xrootd-server"),
        ("xrdcp", "xrootd-client"),
    ):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install {package}")

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-sync-"))
    src = tmp / "src"
    print(f"making {args.files} small files and {args.large} x {args.large_mb} MiB ...", file=sys.stderr)
    make_tree(src, args.files, args.large, args.large_mb)
    dav_root = tmp / "dav"
    dav_root.mkdir()
    dav, port = start_wsgidav(dav_root, USER, PASSWORD)
    eos = XRootDServer(tmp / "xrootd").start()
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True).stdout.strip()
    rclone_env = {
        "RCLONE_CONFIG_DAV_TYPE": "webdav",
        "RCLONE_CONFIG_DAV_URL": f"http://127.0.0.1:{port}/",
        "RCLONE_CONFIG_DAV_VENDOR": "other",
        "RCLONE_CONFIG_DAV_USER": USER,
        "RCLONE_CONFIG_DAV_PASS": obscured,
    }
    cygnet_env = {"CYGNET_BOX_USER": USER, "CYGNET_BOX_PASSWORD": PASSWORD, "CYGNET_DATA_DIR": str(tmp / "data")}
    cygnet = [str(VENV_BIN / "cygnet"), "sync"]
    tools = {
        "rsync -a (local)": lambda: ["rsync", "-a", f"{src}/", str(tmp / "rsync")],
        "rclone sync (local)": lambda: ["rclone", "sync", str(src), str(tmp / "rclone")],
        "cygnet sync (local)": lambda: [*cygnet, str(src), str(tmp / "cygnet")],
        "rclone sync (WebDAV)": lambda: ["rclone", "sync", str(src), "dav:rclone"],
        "cygnet sync (WebDAV)": lambda: [*cygnet, str(src), f"webdav://127.0.0.1:{port}/cygnet"],
        "cygnet sync (XRootD)": lambda: [*cygnet, str(src), f"{eos.url}//cygnet"],
    }
    tools = {name: cmd for name, cmd in tools.items() if any(f"({b})" in name for b in backends)}
    envs = {name: (rclone_env if "rclone" in name else cygnet_env) for name in tools}
    results = {name: {} for name in tools}

    def run(name, phase):
        """Time one sync; for Cygnet also the engine's own time (what a REST job or each round
        of --watch costs, without the ~0.25 s of interpreter start and configuration)."""
        if "cygnet" in name:
            whole, engine = timed_sync(tools[name](), envs[name])
            results[name].setdefault(f"{phase} engine", []).append(engine)
        else:
            whole = timed(tools[name](), envs[name])
        results[name].setdefault(phase, []).append(whole)

    try:
        for name in tools:
            print(f"{name}: first sync ...", file=sys.stderr)
            run(name, "first")
        for phase in ("no-op", "10 changed"):
            for round_ in range(args.runs):
                if phase == "10 changed":
                    change_ten(src, round_)
                for name in tools:  # every tool sees the same change
                    run(name, phase)
        # Large files: a folder of only them, first sync vs a plain copy.
        large = src / "large"
        total = sum(p.stat().st_size for p in large.iterdir())
        # The plain WebDAV copy is a fresh process, as cp -r and xrdcp -r are: Python, webdav4,
        # a client, the folder made, one PUT per file (credentials on stdin, never argv).
        put_each_script = (
            "import sys; from pathlib import Path\n"
            "from webdav4.fsspec import WebdavFileSystem\n"
            "url, folder, source = sys.argv[1:4]; user, password = sys.stdin.read().split()\n"
            "fs = WebdavFileSystem(url, auth=(user, password))\n"
            "fs.makedirs(folder, exist_ok=True)\n"
            "for p in sorted(Path(source).iterdir()): fs.put_file(str(p), f'{folder}/{p.name}')\n"
        )

        def put_each(run):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", put_each_script, f"http://127.0.0.1:{port}/", f"plain-large-{run}", str(large)],
                input=f"{USER} {PASSWORD}",
                text=True,
                check=True,
            )
            return time.perf_counter() - started

        plain = {
            "local": lambda run: timed(["cp", "-r", str(large), str(tmp / f"cp-large-{run}")]),
            "WebDAV": put_each,
            "XRootD": lambda run: (
                subprocess.run(["xrdfs", eos.url, "mkdir", "-p", f"/xrdcp-large-{run}"], check=True),
                timed(["xrdcp", "-s", "-r", str(large), f"{eos.url}//xrdcp-large-{run}/"]),
            )[1],
        }
        box_of = {
            "local": lambda run: str(tmp / f"cygnet-large-{run}"),
            "WebDAV": lambda run: f"webdav://127.0.0.1:{port}/cygnet-large-{run}",
            "XRootD": lambda run: f"{eos.url}//cygnet-large-{run}",
        }
        plain = {backend: plain[backend] for backend in backends}
        large_results = {backend: {"plain": [], "ours": [], "transfer": []} for backend in plain}
        for run in range(args.runs):
            for backend in plain:
                large_results[backend]["plain"].append(plain[backend](run))
                whole, transfer = timed_sync([*cygnet, str(large), box_of[backend](run)], cygnet_env)
                large_results[backend]["ours"].append(whole)
                large_results[backend]["transfer"].append(transfer)
    finally:
        dav.terminate()
        eos.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nsync of {args.files} small files + {args.large} x {args.large_mb} MiB; "
        f"no-op and 10-change: median of {args.runs}"
    )
    print(f"  {'':24} {'first':>9} {'no-op':>9} {'10 changed':>11}   (cygnet's engine alone: no-op, 10 changed)")
    for name, r in results.items():
        engine = (
            f"   ({statistics.median(r['no-op engine']):.3f}s, {statistics.median(r['10 changed engine']):.3f}s)"
            if "cygnet" in name
            else ""
        )
        print(
            f"  {name:24} {r['first'][0]:8.2f}s {statistics.median(r['no-op']):8.3f}s "
            f"{statistics.median(r['10 changed']):10.3f}s{engine}"
        )
    for backend in [b for b in ("local", "WebDAV") if b in backends]:
        ours, theirs = results[f"cygnet sync ({backend})"], results[f"rclone sync ({backend})"]
        for phase in ("no-op", "10 changed"):
            ratio = statistics.median(ours[phase]) / statistics.median(theirs[phase])
            engine = statistics.median(ours[f"{phase} engine"]) / statistics.median(theirs[phase])
            print(
                f"  {backend:6} {phase:10} cygnet/rclone = {ratio:.3f}  goal < 1  {'met' if ratio < 1 else 'MISSED'}"
                f"   (engine alone / rclone = {engine:.3f})"
            )
    mib = total / 2**20
    print(f"\nlarge files ({args.large} x {args.large_mb} MiB into a new box folder), median of {args.runs}:")
    for backend, r in large_results.items():
        plain, ours, transfer = (statistics.median(r[k]) for k in ("plain", "ours", "transfer"))
        share, share_transfer = plain / ours, plain / transfer
        print(
            f"  {backend:6}: plain copy {mib / plain:7.1f} MiB/s | cygnet end to end {mib / ours:7.1f} MiB/s "
            f"({share:.0%}) | cygnet transfer {mib / transfer:7.1f} MiB/s ({share_transfer:.0%})  "
            f"goal >= 90%  {'met' if share_transfer >= 0.9 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
