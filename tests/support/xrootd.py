"""Debian's `xrootd` server on a free loopback port, exporting a temporary folder.

It refuses to run as root: as root it runs as the `xrootd` user (created by the Debian package),
which must own its folders."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.jupyter import free_port


class XRootDServer:
    def __init__(self, base, keytab=None, principal=None, env=None, protocols="krb5"):
        """With `keytab` and `principal` (a service principal in it), every client must
        authenticate with Kerberos (sec.protocol krb5); `env` names the realm (KRB5_CONFIG).
        protocols="krb5 unix" also lets clients in with no credential (for comparisons)."""
        self.own_base = os.geteuid() == 0
        if self.own_base:
            # The server's user must reach its folders; pytest's own are private to root.
            base = Path(tempfile.mkdtemp(prefix="cygnet-xrootd-"))
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.url = f"root://127.0.0.1:{self.port}"
        self.proc = None
        self.keytab, self.principal, self.env, self.protocols = keytab, principal, env or {}, protocols

    def start(self, timeout=20, attempts=3):
        if not shutil.which("xrootd"):
            raise RuntimeError("the xrootd server is missing: apt-get install xrootd-server")
        admin = self.base / "admin"
        for folder in (self.data, admin):
            folder.mkdir(parents=True, exist_ok=True)
        config = self.base / "xrootd.cfg"
        config.write_text(
            f"all.role server\nxrd.port {self.port}\nall.export /\noss.localroot {self.data}\n"
            f"all.adminpath {admin}\nall.pidpath {admin}\n{self._security()}"
        )
        cmd = ["xrootd", "-c", str(config), "-l", str(admin / "xrootd.log")]
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "xrootd:xrootd", str(self.base)], check=True)
            os.chmod(self.base, 0o755)
            cmd[1:1] = ["-R", "xrootd"]
        # A restart on the same port can lose a race with the stopped server's socket: the new
        # server exits at once. It is tried again; what it printed goes into the error.
        for attempt in range(attempts):
            with open(admin / "xrootd.err", "wb") as err:
                self.proc = subprocess.Popen(
                    cmd, stdout=err, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **self.env}
                )
            if self._serving(timeout):
                return self
            self.stop()
            time.sleep(0.5 * (attempt + 1))
        printed = (admin / "xrootd.err").read_text(errors="replace")[-1000:]
        log = (admin / "xrootd.log").read_text(errors="replace")[-1500:] if (admin / "xrootd.log").exists() else ""
        raise RuntimeError(f"xrootd did not start on port {self.port}: {printed}\n{log}")

    def _security(self):
        if not self.keytab:
            return ""
        keytab = self.base / "xrootd.keytab"  # a copy the server's user can read, and no one else
        shutil.copy(self.keytab, keytab)
        os.chmod(keytab, 0o600)
        if "KRB5_CONFIG" in self.env:  # the realm's file, where the server's user can read it
            shutil.copy(self.env["KRB5_CONFIG"], self.base / "krb5.conf")
            self.env = {**self.env, "KRB5_CONFIG": str(self.base / "krb5.conf")}
        unix = "sec.protocol unix\n" if "unix" in self.protocols.split() else ""
        return (
            f"xrootd.seclib libXrdSec.so\nsec.protocol krb5 {keytab} {self.principal}\n{unix}"
            f"sec.protbind * only {self.protocols}\n"
        )

    def _serving(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                if self.proc.poll() is not None:
                    return False
                time.sleep(0.1)
        return False

    def restart(self):
        self.stop()
        return self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        """Stop for good: the server, and the folder made for it outside pytest's (its files
        would otherwise stay in /tmp after the run, a few hundred MB each)."""
        self.stop()
        if self.own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def put(self, rel, data):
        """A file on the server, written directly into its export (owned by the server's user)."""
        path = self.data / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if os.geteuid() == 0:
            shutil.chown(path, "xrootd", "xrootd")
            for parent in path.relative_to(self.data).parents:
                if str(parent) != ".":
                    shutil.chown(self.data / parent, "xrootd", "xrootd")
        return f"{self.url}//{rel.lstrip('/')}"
