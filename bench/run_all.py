"""Run every benchmark in bench/ one after the other and print one summary table: each goal a
benchmark states, whether it was met, and the line that says so. `make bench` runs this.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]

--quick passes smaller sizes (fewer runs, fewer files) to every benchmark: for a look, not for
numbers to quote. Each benchmark's own output goes to test-output/bench/<name>.txt.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "kernel_start": ["--runs", "5"],
    "open_repo": ["--runs", "3", "--megabytes", "10", "--files", "500"],
    "sync": ["--files", "2000", "--large", "1", "--large-mb", "64", "--runs", "1"],
    "spark_connect": ["--runs", "1"],
    "xrootd_io": ["--mib", "256", "--runs", "1"],
    "share_view": ["--seconds", "5", "--runs", "1"],
    "hostile": ["--samples", "100", "--files", "1000"],
    "hub_spawn": ["--runs", "1", "--seconds", "5"],
    "kerberos": ["--runs", "5", "--mib", "128", "--calls", "50"],
    "spark_sessions": ["--rounds", "2"],
    "custom_env": ["--runs", "1", "--kernel-runs", "3"],
    "view_listing": ["--runs", "10"],
    "dask_compute": ["--runs", "1", "--mib", "256"],
    "collab": ["--edits", "40"],
    "gallery": ["--seconds", "5", "--runs", "1"],
    "session_share": ["--runs", "2"],
    "sites": ["--runs", "1"],
    "hub_load": ["--users", "20", "--work-seconds", "10", "--baseline", "5"],
}
VERDICT = re.compile(r"\b(met|MISSED|missed)\b")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    out = Path(os.environ.get("CYGNET_TEST_OUTPUT", "test-output")) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or sorted(p.stem for p in HERE.glob("*.py") if p.stem != "run_all")
    rows = []
    for name in names:
        started = time.monotonic()
        print(f"== bench/{name}.py", flush=True)
        cmd = [sys.executable, str(HERE / f"{name}.py"), *(QUICK.get(name, []) if args.quick else [])]
        result = subprocess.run(cmd, capture_output=True, text=True)
        text = result.stdout + result.stderr
        (out / f"{name}.txt").write_text(text)
        goals = [line.strip() for line in result.stdout.splitlines() if "goal" in line and VERDICT.search(line)]
        if result.returncode != 0:
            rows.append(
                (
                    name,
                    "FAILED",
                    f"exit {result.returncode}: {text.strip().splitlines()[-1][:100] if text.strip() else ''}",
                )
            )
        for line in goals:
            verdicts = VERDICT.findall(line)
            rows.append((name, "met" if all(v == "met" for v in verdicts) else "MISSED", line[:110]))
        print(f"   {time.monotonic() - started:.0f} s, output in {out / (name + '.txt')}", flush=True)
    print("\nbenchmark       verdict  goal line")
    for name, verdict, line in rows:
        print(f"{name:15} {verdict:8} {line}")
    return 1 if any(v == "FAILED" for _, v, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
