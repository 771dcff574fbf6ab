"""Kernel start: time from POST /api/kernels to the first execute_reply, side by side on one
real Cygnet server, for
  (a) plain ipykernel from a kernel.json (the baseline),
  (b) a Cygnet view kernel with a cold environment cache,
  (c) the same view kernel with a warm cache,
all on the same interpreter, with a view whose setup.sh sleeps 1 s to stand in for CVMFS, and
the kernel pool off (bench/kernel_pool.py measures it).
Goals: (c) within 10% of (a); (c) at least 5x faster than (b).

    .venv/bin/python bench/kernel_start.py [--runs 15] [--setup-seconds 1]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.jupyter import JupyterServer, time_to_first_reply  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view, plain_kernel_spec  # noqa: E402

PLATFORM = "x86_64-bench"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--setup-seconds",
        type=float,
        default=1.0,
        help="how long the stand-in setup.sh sleeps (default 1, as the issue asks)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-"))
    print(f"building a view with ipykernel in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    slow = lcg_view(
        tmp / "views", "LCG_slow", PLATFORM, kernel_site=kernel_site, setup_lines=[f"sleep {args.setup_seconds:g}"]
    )

    plain_kernel_spec(tmp / "jupyter-path", slow, kernel_site)

    env = {
        "CYGNET_DATA_DIR": str(tmp / "data"),
        "CYGNET_VIEWS_PATH": str(tmp / "views"),
        "JUPYTER_PATH": str(tmp / "jupyter-path"),
    }
    view_kernel = kernel_name("LCG_slow", PLATFORM)
    times = {"a": [], "b": [], "c": []}
    # The kernel pool off: this compares kernel starts themselves (the environment cache cold
    # and warm); a pooled kernel, ready or not at each open, is bench/kernel_pool.py's subject.
    server_args = ["--Cygnet.keep_native_kernels=True", "--Cygnet.kernel_pool_size=0"]
    with JupyterServer(env=env, root=tmp, args=server_args) as server:
        # Warm the OS caches and the view's environment cache once.
        time_to_first_reply(server, "plain")
        time_to_first_reply(server, view_kernel)

        def cold():
            with open(slow / "setup.sh", "a") as f:  # a new setup.sh version: the cache is cold
                f.write(f"# bench {time.time()}\n")
            return time_to_first_reply(server, view_kernel)

        cases = {
            "a": lambda: time_to_first_reply(server, "plain"),
            "b": cold,
            "c": lambda: time_to_first_reply(server, view_kernel),
        }
        for run in range(args.runs):
            order = "abc"[run % 3 :] + "abc"[: run % 3]  # rotate, so no case always follows another
            for case in order:
                times[case].append(cases[case]())
            print(
                f"run {run + 1}/{args.runs}: " + "  ".join(f"{k}={v[-1]:.3f}s" for k, v in times.items()),
                file=sys.stderr,
            )

    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\nkernel start to first execute_reply, median of {args.runs} runs (setup.sh sleeps {args.setup_seconds:g} s)"
    )
    print(f"  (a) plain ipykernel, kernel.json   {med['a']:.3f} s")
    print(f"  (b) Cygnet view, cold cache        {med['b']:.3f} s")
    print(f"  (c) Cygnet view, warm cache        {med['c']:.3f} s")
    print(f"  (c)/(a) = {med['c'] / med['a']:.3f}   goal <= 1.10  {'met' if med['c'] <= 1.10 * med['a'] else 'MISSED'}")
    print(f"  (b)/(c) = {med['b'] / med['c']:.2f}    goal >= 5     {'met' if med['b'] >= 5 * med['c'] else 'MISSED'}")


if __name__ == "__main__":
    main()
