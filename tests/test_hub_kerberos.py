"""Kerberos under the hub: users log in with their Kerberos password (a real MIT KDC), and the
ticket the login got goes with them into their session, their own, renewed there; nobody types
the password twice, and two users' tickets never mix."""

import secrets

import pytest

from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.kdc import KDC, REALM

pytestmark = pytest.mark.skipif(not KDC.available(), reason="needs Debian's krb5-kdc and krb5-user")


def test_the_login_ticket_reaches_each_users_own_session(tmp_path, kdc, lcg_root):
    root, _ = lcg_root
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.authenticator_class = "cygnet-kerberos"\n'
        "c.Authenticator.enable_auth_state = True\n"
        "c.Authenticator.allow_all = True\n"
    )
    env = {**kdc.env, "CYGNET_VIEWS_PATH": str(root), "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32)}
    hub = Hub(tmp_path / "data", env=env, args=[f"--config={site}"]).start()
    try:
        with pytest.raises(RuntimeError, match="login of alice failed"):
            hub.login("alice", "not-her-password")
        sessions = {}
        for name in ("alice", "bob"):
            web = hub.login(name, f"{name}-password")
            hub.start_session(web, name, {"view": f"LCG_marker/{PLATFORM}"})
            token = hub.token(web, name)
            ticket = hub.api(token).get(f"{hub.url}/user/{name}/cygnet/api/kerberos", timeout=30).json()
            sessions[name] = (token, ticket)
        assert sessions["alice"][1]["principal"] == f"alice@{REALM}"
        assert sessions["bob"][1]["principal"] == f"bob@{REALM}"
        assert sessions["alice"][1]["ccache"] != sessions["bob"][1]["ccache"]

        kernel = hub.kernel("alice", sessions["alice"][0], f"lcg_marker__{PLATFORM}")
        try:
            out = kernel.run(
                "import os, subprocess\n"
                "print('CYGNET_KERBEROS_TICKET' in os.environ, os.environ['KRB5CCNAME'])\n"
                "print(subprocess.run(['klist'], capture_output=True, text=True).stdout)"
            )
        finally:
            kernel.shutdown()
        assert out.startswith(f"False {sessions['alice'][1]['ccache']}"), out
        assert f"Default principal: alice@{REALM}" in out
        log = hub.log()
        assert "alice-password" not in log and "bob-password" not in log
        assert "not-her-password" not in log and "Kerberos login of alice refused" in log
    finally:
        hub.stop()
