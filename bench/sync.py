"""Box sync, side by side in one run, on 10,000 small files plus a few large ones:
  local box:  rsync -a, rclone sync, cygnet sync
  WebDAV box: rclone sync, cygnet sync       (wsgidav + cheroot on 127.0.0.1, basic auth)
for a first sync, a no-op sync and a sync after changing 10 files; and large-file throughput
against a plain copy (cp locally, one webdav4 PUT per file over WebDAV).
Goals: no-op and 10-change syncs faster than rclone on the same backend; large-file
throughput at least 90% of a plain copy.

    .venv/bin/python bench/sync.py [--files 10000] [--large 3] [--large-mb 64] [--runs 3]
Needs rsync and rclone (apt-get install rsync rclone).
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("rsync", "rclone"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install {tool}")

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-sync-"))
    src = tmp / "src"
    print(f"making {args.files} small files and {args.large} x {args.large_mb} MiB ...", file=sys.stderr)
    make_tree(src, args.files, args.large, args.large_mb)
    dav_root = tmp / "dav"
    dav_root.mkdir()
    dav, port = start_wsgidav(dav_root, USER, PASSWORD)
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True).stdout.strip()
    rclone_env = {"RCLONE_CONFIG_DAV_TYPE": "webdav", "RCLONE_CONFIG_DAV_URL": f"http://127.0.0.1:{port}/",
                  "RCLONE_CONFIG_DAV_VENDOR": "other", "RCLONE_CONFIG_DAV_USER": USER,
                  "RCLONE_CONFIG_DAV_PASS": obscured}
    cygnet_env = {"CYGNET_BOX_USER": USER, "CYGNET_BOX_PASSWORD": PASSWORD, "CYGNET_DATA_DIR": str(tmp / "data")}
    cygnet = [str(VENV_BIN / "cygnet"), "sync"]
    tools = {
        "rsync -a (local)": lambda: ["rsync", "-a", f"{src}/", str(tmp / "rsync")],
        "rclone sync (local)": lambda: ["rclone", "sync", str(src), str(tmp / "rclone")],
        "cygnet sync (local)": lambda: [*cygnet, str(src), str(tmp / "cygnet")],
        "rclone sync (WebDAV)": lambda: ["rclone", "sync", str(src), "dav:rclone"],
        "cygnet sync (WebDAV)": lambda: [*cygnet, str(src), f"webdav://127.0.0.1:{port}/cygnet"],
    }
    envs = {name: (rclone_env if "rclone" in name else cygnet_env) for name in tools}
    results = {name: {} for name in tools}
    try:
        for name, cmd in tools.items():
            print(f"{name}: first sync ...", file=sys.stderr)
            results[name]["first"] = timed(cmd(), envs[name])
        for phase in ("no-op", "10 changed"):
            for run in range(args.runs):
                if phase == "10 changed":
                    change_ten(src, run)
                for name, cmd in tools.items():  # every tool sees the same change
                    results[name].setdefault(phase, []).append(timed(cmd(), envs[name]))
        # Large files: a folder of only them, first sync vs a plain copy.
        large = src / "large"
        total = sum(p.stat().st_size for p in large.iterdir())
        plain_local = timed(["cp", "-r", str(large), str(tmp / "cp-large")])
        cyg_local = timed([*cygnet, str(large), str(tmp / "cygnet-large")], cygnet_env)
        from webdav4.fsspec import WebdavFileSystem

        fs = WebdavFileSystem(f"http://127.0.0.1:{port}/", auth=(USER, PASSWORD))
        fs.makedirs("plain-large", exist_ok=True)
        started = time.perf_counter()
        for p in large.iterdir():
            fs.put_file(str(p), f"plain-large/{p.name}")
        plain_dav = time.perf_counter() - started
        cyg_dav = timed([*cygnet, str(large), f"webdav://127.0.0.1:{port}/cygnet-large"], cygnet_env)
    finally:
        dav.terminate()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nsync of {args.files} small files + {args.large} x {args.large_mb} MiB; "
          f"no-op and 10-change: median of {args.runs}")
    print(f"  {'':24} {'first':>9} {'no-op':>9} {'10 changed':>11}")
    for name, r in results.items():
        print(f"  {name:24} {r['first']:8.2f}s {statistics.median(r['no-op']):8.3f}s "
              f"{statistics.median(r['10 changed']):10.3f}s")
    for backend in ("local", "WebDAV"):
        ours, theirs = results[f"cygnet sync ({backend})"], results[f"rclone sync ({backend})"]
        for phase in ("no-op", "10 changed"):
            ratio = statistics.median(ours[phase]) / statistics.median(theirs[phase])
            print(f"  {backend:6} {phase:10} cygnet/rclone = {ratio:.3f}  goal < 1  {'met' if ratio < 1 else 'MISSED'}")
    mib = total / 2**20
    for backend, plain, ours in (("local", plain_local, cyg_local), ("WebDAV", plain_dav, cyg_dav)):
        share = plain / ours
        print(f"  large files, {backend:6}: plain copy {mib / plain:7.1f} MiB/s, cygnet {mib / ours:7.1f} MiB/s, "
              f"{share:.0%} of plain  goal >= 90%  {'met' if share >= 0.9 else 'MISSED'}")


if __name__ == "__main__":
    main()
