"""Reading and copying one large file from a real xrootd server on 127.0.0.1, side by side:
  local disk read (the floor), raw XRootD.client.File.read in 8 MiB chunks, fsspec-xrootd
  chunked and whole-file reads, xrdcp to /dev/null, and Cygnet's open().read() and copy().
Prints MiB/s and ratios (medians over --runs). Goals: Cygnet's read at least 95% of the raw
8 MiB-chunk loop and at least 3x fsspec-xrootd's whole-file read; copy faster than xrdcp.

    .venv/bin/python bench/xrootd_io.py [--mib 1024] [--runs 3]
Needs Debian's xrootd-server and xrootd-client.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cygnet import storage  # noqa: E402
from cygnet.storage import xrootd  # noqa: E402
from tests.support.xrootd import XRootDServer  # noqa: E402

CHUNK = 8 << 20


def timed(step):
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = XRootDServer(Path(tempfile.mkdtemp())).start()
    try:
        with open("/dev/urandom", "rb") as rnd:
            data = b"".join(rnd.read(1 << 20) for _ in range(args.mib))
        url = server.put("/eos/bench/big.bin", data)
        local = server.data / "eos/bench/big.bin"
        del data
        out = Path(tempfile.mkdtemp())
        import fsspec
        from XRootD import client

        def local_read():
            with open(local, "rb") as f:
                while f.read(CHUNK):
                    pass

        def raw_chunks():
            f = client.File()
            f.open(url)
            offset = 0
            while True:
                status, chunk = f.read(offset, CHUNK)
                if not chunk:
                    break
                offset += len(chunk)
            f.close()

        def fsspec_chunks():
            with fsspec.open(url, "rb") as f:
                while f.read(CHUNK):
                    pass

        def fsspec_whole():
            with fsspec.open(url, "rb") as f:
                f.read()

        def xrdcp():
            subprocess.run(["xrdcp", "-f", "-s", url, "/dev/null"], check=True)

        def cygnet_read():
            with storage.open(url) as f:
                while f.read(CHUNK):
                    pass

        def cygnet_whole():
            with storage.open(url) as f:
                f.read()

        def xrdcp_file():
            subprocess.run(["xrdcp", "-f", "-s", url, str(out / "xrdcp.bin")], check=True)

        def cygnet_copy():
            storage.copy(url, str(out / "copy.bin"))

        cases = [
            ("local disk read (floor)", local_read),
            ("raw File.read, 8 MiB chunks", raw_chunks),
            ("fsspec-xrootd chunked", fsspec_chunks),
            ("fsspec-xrootd whole read()", fsspec_whole),
            ("xrdcp to /dev/null", xrdcp),
            ("xrdcp to local disk", xrdcp_file),
            ("cygnet open().read(8 MiB) loop", cygnet_read),
            ("cygnet open().read() whole", cygnet_whole),
            ("cygnet copy() to local disk", cygnet_copy),
        ]
        times = {name: [] for name, _ in cases}
        for run in range(args.runs):
            order = cases[run % len(cases) :] + cases[: run % len(cases)]
            for name, step in order:
                times[name].append(timed(step))
        rate = {name: args.mib / statistics.median(t) for name, t in times.items()}
        print(f"{args.mib} MiB file, {args.runs} runs, medians (xrootd {xrootd.__name__}, chunk {CHUNK >> 20} MiB)")
        for name, _ in cases:
            print(f"  {name:32s} {rate[name]:8.0f} MiB/s")
        raw, read = rate["raw File.read, 8 MiB chunks"], rate["cygnet open().read(8 MiB) loop"]
        whole, fs_whole = rate["cygnet open().read() whole"], rate["fsspec-xrootd whole read()"]
        copy, cp, cp_file = rate["cygnet copy() to local disk"], rate["xrdcp to /dev/null"], rate["xrdcp to local disk"]
        print(
            f"cygnet sequential read / raw chunks: {read / raw:.2f} "
            f"(goal >= 0.95: {'met' if read >= 0.95 * raw else 'missed'})"
        )
        print(
            f"cygnet sequential read / fsspec whole read: {read / fs_whole:.1f}x (goal >= 3x: "
            f"{'met' if read >= 3 * fs_whole else 'missed'}); "
            f"cygnet whole read / fsspec whole read: {whole / fs_whole:.2f}"
        )
        print(
            f"cygnet copy / xrdcp to /dev/null: {copy / cp:.2f} (goal > 1: {'met' if copy > cp else 'missed'}); "
            f"/ xrdcp to local disk: {copy / cp_file:.2f}"
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
