"""Where a spawn's time goes: one `cygnet hub` (Cygnet's spawner and form, a view's kernel), users
spawned one after another (one first, untimed, so the OS's caches are warm), each from the form's
submit to its first kernel execute_reply. Each phase is timed from the client's clock and the
hub's and the session's log lines (wall clock, milliseconds); medians over --runs:
  submit -> the hub's spawner starts the process   (the hub: form, options, spawner.start)
  -> the session's first log line                   (Python and jupyter_server's imports)
  -> its extensions loaded                          (Cygnet's and the others' load)
  -> it listens                                     (the server's start after the extensions)
  -> the hub sees it answer and routes it           (the hub's poll of the new server, the proxy)
  -> the client's first 200 from /user/<name>/api/status
  -> POST /api/kernels answers                      (the kernel's start, or a pooled kernel's)
  -> the first execute_reply                        (the kernel's first answer through the server)

    .venv/bin/python bench/spawn_trace.py [--runs 5]
"""

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hub_spawn import PLATFORM, Side  # noqa: E402
from tests.support.hub import Hub  # noqa: E402
from tests.support.views import built_kernel_site, kernel_name, lcg_view  # noqa: E402

STAMP = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\w+)[^\]]*\] (.*)$")
SESSION_SOURCES = ("ServerApp", "LabApp", "JupyterHubSingleUser", "FileIdExtension", "YDocExtension")
PHASES = (
    ("spawner started", "the hub: form, options, spawner.start"),
    ("first log line", "Python and jupyter_server's imports"),
    ("extensions loaded", "the extensions' imports and load"),
    ("listening", "the server's start after its extensions"),
    ("routed", "the hub sees it answer, the proxy's route"),
    ("client sees it", "the client's first 200 from the session"),
    ("kernel created", "POST /api/kernels"),
    ("first reply", "the kernel's first execute_reply"),
)


def stamped(text):
    """(wall-clock seconds, source, message) of each line of a Jupyter log."""
    lines = []
    for line in text.splitlines():
        match = STAMP.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            lines.append((when, match.group(2), match.group(3)))
    return lines


def server_side(lines, user, since):
    """{phase: wall-clock seconds} of the hub's and `user`'s session's log lines after `since`."""
    found = {}
    for when, source, message in lines:
        if when < since - 0.001:
            continue
        if "spawner started" not in found:
            if source == "JupyterHub" and "Spawning " in message:
                found["spawner started"] = when
            continue
        if source in SESSION_SOURCES and "first log line" not in found:
            found["first log line"] = when
        if "extension was successfully loaded" in message and "listening" not in found:
            found["extensions loaded"] = when
        if "is running at" in message and "listening" not in found:
            found["listening"] = when
        if source == "JupyterHub" and f"Adding user {user} to proxy" in message:
            found["routed"] = when
            break
    return found


def traced_spawn(side):
    user = side.new_user()
    name, _, token = user
    submitted = time.time()
    side.spawn_and_wait(user)
    stamps = {"client sees it": time.time()}
    kernel = side.hub.kernel(name, token, side.kernel)
    stamps["kernel created"] = time.time()
    status, _, err = kernel.execute("pass")
    stamps["first reply"] = time.time()
    kernel.shutdown()
    if status != "ok":
        raise RuntimeError(f"{name}: the kernel failed: {err}")
    stamps.update(server_side(stamped(side.hub.log_path.read_text()), name, submitted))
    side.stop(user)
    missing = [phase for phase, _ in PHASES if phase not in stamps]
    if missing:
        raise RuntimeError(f"{name}: no log line for {missing}")
    previous, steps = submitted, {}
    for phase, _ in PHASES:
        steps[phase] = stamps[phase] - previous
        previous = stamps[phase]
    steps["total"] = stamps["first reply"] - submitted
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cygnet-bench-trace-"))
    print(f"building a view with ipykernel in {tmp} ...", file=sys.stderr)
    kernel_site = built_kernel_site(tmp / "built", PLATFORM)
    lcg_view(tmp / "views", "LCG_bench", PLATFORM, kernel_site=kernel_site)
    hub = Hub(tmp / "data", env={"CYGNET_VIEWS_PATH": str(tmp / "views")}, args=["--log-level=INFO"])
    side = Side("u", hub, kernel_name("LCG_bench", PLATFORM), {"view": f"LCG_bench/{PLATFORM}"})
    hub.start()
    try:
        side.spawn_to_first_reply(side.new_user())  # the OS's caches, not timed
        runs = []
        for run in range(args.runs):
            runs.append(traced_spawn(side))
            print(f"run {run + 1}/{args.runs}: {runs[-1]['total']:.2f} s", file=sys.stderr)
    finally:
        hub.stop()
    print(f"\na spawn through `cygnet hub`, form submit to first execute_reply: medians of {args.runs}")
    for phase, what in PHASES:
        print(f"  -> {phase:18} +{statistics.median(r[phase] for r in runs):6.3f} s   ({what})")
    print(f"  total               {statistics.median(r['total'] for r in runs):6.3f} s")


if __name__ == "__main__":
    main()
