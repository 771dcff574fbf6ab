"""Kerberos, side by side, against a real MIT KDC on 127.0.0.1:
  1. authentication: MIT's `kinit` from the command line (the baseline) against
     POST /cygnet/api/kerberos on a running `cygnet up` server, end to end;
  2. reading a large file from one xrootd server that accepts `krb5` and the host-trust
     `unix` protocol (no credential at all): Cygnet's read with a ticket against the same read
     with `unix` (the client picks with $XrdSecPROTOCOL), each in a fresh process;
  3. a SPNEGO-protected token service: 100 fetches through one kept session (cygnet.core.negotiate)
     against 100 fresh handshakes.
Medians and ratios. Goals: authentication within 1.2x of bare kinit; authenticated reads at
least 95% of unauthenticated; the kept session at least 5x faster than fresh handshakes.

    .venv/bin/python bench/kerberos.py [--runs 11] [--mib 256] [--calls 100]
Needs Debian's krb5-kdc, krb5-user and xrootd-server (`make test` installs them).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cygnet.core import kerberos, negotiate  # noqa: E402
from tests.support import negotiate_server  # noqa: E402
from tests.support.jupyter import JupyterServer, free_port  # noqa: E402
from tests.support.kdc import KDC, REALM  # noqa: E402
from tests.support.xrootd import XRootDServer  # noqa: E402

READ = """
import sys, time
from cygnet import storage
started = time.perf_counter()
with storage.open(sys.argv[1]) as f:
    while f.read(8 << 20):
        pass
print(time.perf_counter() - started)
"""


def timed(step):
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def authentication(kdc, folder, runs):
    ccache = "FILE:" + str(folder / "cli-cc")
    env = {**os.environ, **kdc.env}

    def cli():
        subprocess.run(
            ["kinit", "-c", ccache, "alice"], input=b"alice-password\n", env=env, check=True, capture_output=True
        )

    (folder / "workspace").mkdir()
    server_env = {**kdc.env, "CYGNET_DATA_DIR": str(folder / "data")}
    args = ["--Cygnet.build_default_view=False", "--Cygnet.kerberos_renew_every=0"]
    with JupyterServer(env=server_env, root=folder / "workspace", args=args) as server:

        def api():
            r = server.post("/cygnet/api/kerberos", json={"principal": "alice", "password": "alice-password"})
            assert r.status_code == 200, r.text

        api()  # the first request warms the server's routes
        cli_times, api_times = [], []
        for _ in range(runs):
            cli_times.append(timed(cli))
            api_times.append(timed(api))
    return statistics.median(cli_times), statistics.median(api_times)


def reads(kdc, folder, mib, runs):
    keytab = kdc.add_service("xrootd/localhost", folder / "xrootd.keytab")
    principal = f"xrootd/localhost@{REALM}"
    server = XRootDServer(folder / "eos", keytab=keytab, principal=principal, env=kdc.env, protocols="krb5 unix")
    server.start()
    try:
        with open("/dev/urandom", "rb") as rnd:
            url = server.put("/bench/big.bin", b"".join(rnd.read(1 << 20) for _ in range(mib)))
        ccache = kerberos.ccache_of(str(folder / "reader"))
        kerberos.kinit_password("alice", "alice-password", ccache)
        base = {**os.environ, **kdc.env, "KRB5CCNAME": ccache, "PYTHONPATH": str(Path(__file__).parent.parent)}

        def read(protocol):
            out = subprocess.run(
                [sys.executable, "-c", READ, url],
                env={**base, "XrdSecPROTOCOL": protocol},
                capture_output=True,
                text=True,
                check=True,
            )
            return float(out.stdout.strip())

        krb5, unix = [], []
        for _ in range(runs):
            krb5.append(read("krb5"))
            unix.append(read("unix"))
        return mib / statistics.median(krb5), mib / statistics.median(unix)
    finally:
        server.close()


def token_fetches(kdc, folder, calls):
    keytab = kdc.add_service("HTTP/127.0.0.1", folder / "http.keytab")
    (folder / "dav").mkdir()
    port = free_port()
    proc = negotiate_server.start(port, folder / "dav", {**kdc.env, "KRB5_KTNAME": keytab})
    try:
        url = f"http://127.0.0.1:{port}/token"
        ccache = kerberos.ccache_of(str(folder / "client"))
        kerberos.kinit_password("alice", "alice-password", ccache)
        os.environ.update({**kdc.env, "KRB5CCNAME": ccache})
        negotiate.fetch(url)  # the service ticket, once, into the cache
        kept = negotiate.session()
        reused = timed(lambda: [negotiate.fetch(url, kept) for _ in range(calls)])
        fresh = timed(lambda: [negotiate.fetch(url) for _ in range(calls)])
        return reused, fresh
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    if not KDC.available() or not shutil.which("xrootd"):
        sys.exit("bench/kerberos.py needs krb5-kdc, krb5-user and xrootd-server (make test installs them)")
    folder = Path(tempfile.mkdtemp(prefix="cygnet-bench-krb-"))
    kdc = KDC(folder / "kdc").start()
    os.environ.update(kdc.env)  # this process's own Kerberos calls use the bench's realm
    try:
        kdc.add_user("alice", "alice-password")
        cli, api = authentication(kdc, folder, args.runs)
        print(f"authentication, {args.runs} runs, medians")
        print(f"  kinit on the command line      {cli * 1000:8.1f} ms")
        print(f"  POST /cygnet/api/kerberos      {api * 1000:8.1f} ms")
        print(f"authentication / bare kinit: {api / cli:.2f} (goal <= 1.2: {'met' if api <= 1.2 * cli else 'missed'})")

        krb5, unix = reads(kdc, folder, args.mib, max(3, args.runs // 3))
        print(f"XRootD read of {args.mib} MiB, medians, each in a fresh process")
        print(f"  with a Kerberos ticket (krb5)  {krb5:8.0f} MiB/s")
        print(f"  without credentials (unix)     {unix:8.0f} MiB/s")
        print(
            f"authenticated / unauthenticated read: {krb5 / unix:.2f} "
            f"(goal >= 0.95: {'met' if krb5 >= 0.95 * unix else 'missed'})"
        )

        reused, fresh = token_fetches(kdc, folder, args.calls)
        print(f"SPNEGO token service, {args.calls} calls")
        print(f"  one kept session               {reused * 1000 / args.calls:8.2f} ms per call")
        print(f"  a fresh handshake each time    {fresh * 1000 / args.calls:8.2f} ms per call")
        print(f"fresh / kept: {fresh / reused:.1f}x (goal >= 5x: {'met' if fresh >= 5 * reused else 'missed'})")
    finally:
        kdc.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
