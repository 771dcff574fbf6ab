"""Kerberos credentials (cygnet.core.kerberos) against a real MIT KDC on loopback (Debian's
krb5-kdc): a ticket per user in a cache of Cygnet's own, a password only ever on kinit's stdin,
and failures named in the user's words."""

import os
import stat
import time

import pytest

from cygnet.core import kerberos
from cygnet.core.errors import BadInput, Expired, NotAuthenticated, NotFound, Unavailable
from tests.support.jupyter import free_port
from tests.support.kdc import KDC, REALM, client_conf

pytestmark = pytest.mark.skipif(not KDC.available(), reason="needs Debian's krb5-kdc and krb5-user")


@pytest.fixture
def realm(kdc, monkeypatch, tmp_path):
    for key, value in kdc.env.items():
        monkeypatch.setenv(key, value)
    return kerberos.ccache_of(str(tmp_path / "data"))


def test_a_ticket_in_a_cache_of_cygnets_own_from_a_password(realm):
    assert kerberos.status(realm).principal is None
    ticket = kerberos.kinit_password("alice", "alice-password", realm)
    assert ticket.principal == f"alice@{REALM}"
    assert time.time() + 3000 < ticket.expires <= time.time() + 3700
    assert ticket.renew_until and ticket.renew_until > ticket.expires
    path = realm.removeprefix("FILE:")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and "/kerberos/" in path
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    renewed = kerberos.renew(realm)
    assert renewed.principal == ticket.principal and renewed.expires >= ticket.expires
    kerberos.destroy(realm)
    assert kerberos.status(realm).principal is None
    kerberos.destroy(realm)  # twice: no error


@pytest.mark.parametrize(
    "principal, password, error, words",
    [
        ("alice", "wrong", BadInput, "wrong password for alice"),
        ("nobody", "whatever", NotFound, "unknown principal nobody"),
        ("alice", "", BadInput, "password is required"),
        ("carol", "wrong", BadInput, "wrong password for carol"),
        ("carol@", "x", BadInput, "is not a Kerberos principal name"),
        ("dave", "dave-password", NotAuthenticated, "dave .*(disabled|locked)"),
        ("erin", "erin-password", NotAuthenticated, "password of erin has expired"),
    ],
)
def test_a_refusal_names_its_cause(realm, principal, password, error, words):
    with pytest.raises(error, match=words):
        kerberos.kinit_password(principal, password, realm)
    assert kerberos.status(realm).principal is None


def test_a_ticket_that_is_not_renewable_says_so(realm):
    kerberos.kinit_password("bob", "bob-password", realm)
    with pytest.raises(Expired, match="not renewable"):
        kerberos.renew(realm)
    kerberos.destroy(realm)
    with pytest.raises(Expired, match="no valid ticket"):
        kerberos.renew(realm)


def test_an_unreachable_kdc_is_named_in_bounded_time(realm, tmp_path, monkeypatch):
    dead = tmp_path / "dead.conf"
    dead.write_text(client_conf(f"127.0.0.1:{free_port()}"))
    monkeypatch.setenv("KRB5_CONFIG", str(dead))
    started = time.monotonic()
    with pytest.raises(Unavailable, match=f"KDC of {REALM} cannot be reached"):
        kerberos.kinit_password("alice", "alice-password", realm)
    assert time.monotonic() - started < kerberos.TIMEOUT + 5


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.skipif(not os.path.exists(FAKETIME), reason="needs Debian's faketime")
def test_a_clock_far_from_the_kdcs_is_named(kdc, tmp_path):
    from tests.support.cli import cygnet

    # MIT clients correct their clock from the KDC's unless told not to (kdc_timesync = 0); the
    # CLI runs under faketime, two hours ahead of the KDC.
    strict = tmp_path / "strict.conf"
    strict.write_text(client_conf(f"127.0.0.1:{kdc.port}", timesync=False))
    env = {"KRB5_CONFIG": str(strict), "LD_PRELOAD": FAKETIME, "FAKETIME": "+2h", "CYGNET_DATA_DIR": str(tmp_path)}
    skewed = cygnet("kerberos", "init", "alice", env=env, input="alice-password\n")
    assert skewed.returncode != 0 and "clock and the KDC's differ too much" in skewed.stderr, skewed.stderr


def test_the_cli_reads_the_password_from_stdin_and_says_what_it_holds(kdc, tmp_path):
    from tests.support.cli import cygnet

    env = {**kdc.env, "CYGNET_DATA_DIR": str(tmp_path / "data")}
    assert cygnet("kerberos", "status", env=env).returncode == 3
    wrong = cygnet("kerberos", "init", "alice", env=env, input="nope\n")
    assert wrong.returncode != 0 and "wrong password for alice" in wrong.stderr and "nope" not in wrong.stderr
    done = cygnet("kerberos", "init", "alice", env=env, input="alice-password\n")
    assert done.returncode == 0 and f"alice@{REALM}, valid until" in done.stdout, done.stderr
    status = cygnet("kerberos", "status", "--json", env=env)
    assert status.returncode == 0 and '"principal": "alice@CYGNET.TEST"' in status.stdout
    assert cygnet("kerberos", "destroy", env=env).returncode == 0
    assert cygnet("kerberos", "status", env=env).returncode == 3


def test_kernels_and_terminals_of_a_server_use_the_users_own_cache(kdc, tmp_path, lcg_root):
    """A ticket made through the REST API is the one a kernel of that server sees (KRB5CCNAME),
    and terminals get the same variable from the server."""
    from tests.support.cli import PLATFORM
    from tests.support.jupyter import JupyterServer

    root, _ = lcg_root
    (tmp_path / "workspace").mkdir()
    env = {**kdc.env, "CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(root)}
    with JupyterServer(env=env, root=tmp_path / "workspace") as server:
        made = server.post("/cygnet/api/kerberos", json={"principal": "alice", "password": "alice-password"})
        assert made.status_code == 200, made.text
        ccache = made.json()["ccache"]
        kernel = server.kernel(f"lcg_marker__{PLATFORM}")
        try:
            out = kernel.run(
                "import os, subprocess\n"
                "print(os.environ['KRB5CCNAME'])\n"
                "print(subprocess.run(['klist', '-s'], env={**os.environ, 'KRB5_CONFIG': "
                f"{kdc.env['KRB5_CONFIG']!r}}}).returncode)"
            )
        finally:
            kernel.shutdown()
        assert out.split() == [ccache, "0"], out
        shown = server.terminal("echo CACHE=$KRB5CCNAME", "CACHE=")
        assert f"CACHE={ccache}" in shown, shown
        assert "alice-password" not in server.log()


def test_the_server_renews_a_ticket_before_it_expires(kdc, tmp_path):
    from tests.support.jupyter import JupyterServer

    (tmp_path / "workspace").mkdir()
    env = {**kdc.env, "CYGNET_DATA_DIR": str(tmp_path / "data")}
    args = [
        "--Cygnet.kerberos_renew_every=2",
        "--Cygnet.kerberos_renew_before=7200",  # a 1 h ticket is due at once
        "--Cygnet.build_default_view=False",
    ]
    with JupyterServer(env=env, root=tmp_path / "workspace", args=args) as server:
        first = server.post("/cygnet/api/kerberos", json={"principal": "alice", "password": "alice-password"})
        assert first.status_code == 200, first.text
        deadline = time.monotonic() + 30
        while server.get("/cygnet/api/kerberos").json()["expires"] <= first.json()["expires"]:
            assert time.monotonic() < deadline, "the ticket was not renewed within 30 s"
            time.sleep(1)
        assert "renewed the Kerberos ticket of alice@CYGNET.TEST" in server.log()
