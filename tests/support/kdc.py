"""A real MIT Kerberos KDC (Debian's krb5-kdc) on loopback, in a realm of its own, for tests.
Clients find it through the KRB5_CONFIG the fixture gives them."""

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.jupyter import free_port

REALM = "CYGNET.TEST"


class KDC:
    passwords: list = []  # every user password handed out: no server log may hold one (conftest)

    def __init__(self, folder):
        self.dir = Path(folder)
        self.port = free_port()
        self.krb5_conf = self.dir / "krb5.conf"
        self.env = {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.dir / "kdc.conf"),
            "LC_ALL": "C",
        }
        self.proc = None

    @staticmethod
    def available():
        return all(shutil.which(c) for c in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist"))

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.krb5_conf.write_text(client_conf(f"127.0.0.1:{self.port}"))
        (self.dir / "kdc.conf").write_text(
            f"[kdcdefaults]\n kdc_listen = 127.0.0.1:{self.port}\n kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            f"[realms]\n {REALM} = {{\n  database_name = {self.dir}/principal\n"
            f"  key_stash_file = {self.dir}/stash\n  acl_file = {self.dir}/kadm5.acl\n"
            "  max_life = 10h\n  max_renewable_life = 7d\n }\n"
            f"[logging]\n kdc = FILE:{self.dir}/kdc.log\n"
        )
        (self.dir / "kadm5.acl").write_text("")
        self._admin(["kdb5_util", "create", "-s", "-r", REALM, "-P", "master-password"])
        self.kadmin(f"modprinc -maxrenewlife 7d krbtgt/{REALM}")
        self.proc = subprocess.Popen(
            ["krb5kdc", "-n", "-r", REALM, "-P", str(self.dir / "kdc.pid")],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"krb5kdc did not start: {(self.dir / 'kdc.log').read_text(errors='replace')}")
        return self

    def add_user(self, name, password, renewable=True, preauth=True, flags=""):
        """A user principal; `preauth=False` is MIT's own default for addprinc; `flags` more
        addprinc options (+disallow_all_tix, -pwexpire ...)."""
        extra = ("+requires_preauth " if preauth else "-requires_preauth ") + flags + " "
        extra += "-maxrenewlife 7d " if renewable else "-maxrenewlife 0 "
        self.kadmin(f"addprinc {extra}-pw {password} {name}")
        KDC.passwords.append(password)

    def add_service(self, principal, keytab):
        """A service principal with a random key, written to `keytab` (a fresh file)."""
        Path(keytab).unlink(missing_ok=True)
        self.kadmin(f"addprinc -randkey {principal}")
        self.kadmin(f"ktadd -k {keytab} {principal}")
        return str(keytab)

    def kadmin(self, query):
        self._admin(["kadmin.local", "-r", REALM, "-q", query])

    def _admin(self, cmd):
        done = subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def client_conf(kdc_address, renew="1d", timesync=True):
    """A client's krb5.conf for the test realm (timesync=False: no silent clock correction)."""
    return (
        f"[libdefaults]\n default_realm = {REALM}\n rdns = false\n dns_canonicalize_hostname = false\n"
        f" kdc_timesync = {int(timesync)}\n"
        " dns_lookup_realm = false\n dns_lookup_kdc = false\n ticket_lifetime = 1h\n"
        f" renew_lifetime = {renew}\n udp_preference_limit = 1\n"
        f"[realms]\n {REALM} = {{\n  kdc = {kdc_address}\n }}\n"
    )
