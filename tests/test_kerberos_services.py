"""Where the user's Kerberos ticket is used, each against a real service on loopback that
requires it: Debian's xrootd with `sec.protocol krb5` (EOS), and an HTTP service that requires
SPNEGO (gssapi against the test KDC) standing in for a token service and a Negotiate WebDAV box.
Each works with a ticket and fails clearly without one."""

import os
import time

import pytest

from cygnet.core import kerberos, negotiate
from cygnet.core.errors import NotAuthenticated
from tests.support.cli import cygnet
from tests.support.jupyter import free_port
from tests.support.kdc import KDC, REALM

pytestmark = pytest.mark.skipif(not KDC.available(), reason="needs Debian's krb5-kdc and krb5-user")


@pytest.fixture(scope="module")
def kerberized_eos(kdc, tmp_path_factory):
    from tests.support.xrootd import XRootDServer

    folder = tmp_path_factory.mktemp("krb-eos")
    keytab = kdc.add_service("xrootd/localhost", folder / "xrootd.keytab")
    server = XRootDServer(folder, keytab=keytab, principal=f"xrootd/localhost@{REALM}", env=kdc.env).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def negotiate_service(kdc, tmp_path_factory):
    from tests.support import negotiate_server

    folder = tmp_path_factory.mktemp("negotiate")
    keytab = kdc.add_service("HTTP/127.0.0.1", folder / "http.keytab")
    (folder / "dav" / "box").mkdir(parents=True)
    port = free_port()
    proc = negotiate_server.start(port, folder / "dav", {**kdc.env, "KRB5_KTNAME": keytab})
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def user(kdc, tmp_path, monkeypatch):
    """A user's environment: the test realm and a cache of their own (empty)."""
    ccache = kerberos.ccache_of(str(tmp_path / "data"))
    for key, value in {**kdc.env, "KRB5CCNAME": ccache}.items():
        monkeypatch.setenv(key, value)
    return {**kdc.env, "KRB5CCNAME": ccache, "CYGNET_DATA_DIR": str(tmp_path / "data")}


def test_eos_with_krb5_reads_and_writes_with_a_ticket_and_says_why_not_without(kerberized_eos, user, tmp_path):
    # Each step is a process of its own (the CLI), as XRootD keeps a connection once it logged in.
    url = f"{kerberized_eos.url}//alice/notes.txt"
    local = tmp_path / "notes.txt"
    local.write_text("measured\n")
    refused = cygnet("storage", "cp", str(local), url, env=user)
    assert refused.returncode != 0
    assert "needs Kerberos and there is no valid ticket" in refused.stderr
    assert "cygnet kerberos init" in refused.stderr and "Traceback" not in refused.stderr

    kerberos.kinit_password("alice", "alice-password", user["KRB5CCNAME"])
    assert cygnet("storage", "cp", str(local), url, env=user).returncode == 0
    listed = cygnet("storage", "ls", f"{kerberized_eos.url}//alice", env=user)
    assert listed.returncode == 0 and "notes.txt" in listed.stdout, listed.stderr
    back = tmp_path / "back.txt"
    assert cygnet("storage", "cp", url, str(back), env=user).returncode == 0
    assert back.read_text() == "measured\n"
    assert (kerberized_eos.data / "alice" / "notes.txt").read_text() == "measured\n"

    # An expired ticket is no ticket: a 2-second one, then the same message as none.
    kerberos.kinit_password("alice", "alice-password", user["KRB5CCNAME"], lifetime=2)
    time.sleep(3)
    expired = cygnet("storage", "ls", f"{kerberized_eos.url}//alice", env=user)
    assert expired.returncode != 0 and "no valid ticket" in expired.stderr, expired.stderr


def test_a_box_on_eos_with_krb5_syncs_with_the_ticket(kerberized_eos, user, tmp_path):
    from cygnet.storage.box import open_box

    kerberos.kinit_password("alice", "alice-password", user["KRB5CCNAME"])
    box = open_box(f"{kerberized_eos.url}//alice/box")
    source = tmp_path / "results.csv"
    source.write_text("a,b\n1,2\n")
    box.upload(str(source), "results.csv")
    assert box.read("results.csv") == b"a,b\n1,2\n"


def test_a_token_service_with_spnego_gives_a_token_file_and_one_session_negotiates_once(negotiate_service, user):
    with pytest.raises(NotAuthenticated, match="no valid ticket"):
        negotiate.fetch(f"{negotiate_service}/token")
    kerberos.kinit_password("alice", "alice-password", user["KRB5CCNAME"])
    path = os.path.join(user["CYGNET_DATA_DIR"], "kerberos", "tokens", "analytix.token")
    http = negotiate.session()
    assert negotiate.save_token(f"{negotiate_service}/token", path, http) == path
    assert open(path, "rb").read().endswith(f"alice@{REALM}".encode())
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # The session kept the service's cookie: the next call needs no handshake.
    again = http.get(f"{negotiate_service}/token", auth=None)
    assert again.status_code == 200
    with pytest.raises(Exception, match="http"):
        negotiate.check_url("file:///etc/passwd")


def test_a_webdav_box_that_asks_for_negotiate_gets_the_ticket(negotiate_service, user, tmp_path):
    from cygnet.storage.box import open_box

    box_url = negotiate_service.replace("http://", "webdav://") + "/box"
    source = tmp_path / "plot.txt"
    source.write_text("a plot\n")
    with pytest.raises(NotAuthenticated, match="no valid ticket"):
        open_box(box_url).upload(str(source), "plot.txt")
    kerberos.kinit_password("alice", "alice-password", user["KRB5CCNAME"])
    box = open_box(box_url)
    box.upload(str(source), "plot.txt")
    assert box.read("plot.txt") == b"a plot\n"


def test_a_kerberos_spark_cluster_asks_for_a_ticket_then_gets_tokens_and_the_cache(
    negotiate_service, kdc, spark_view, tmp_path
):
    """A catalogue cluster with `auth: kerberos` and a token service: connect first says to
    authenticate; after POST /cygnet/api/kerberos the server fetched the delegation tokens, and
    the driver (local here: no YARN runs on this machine) gets them and the user's cache."""
    import json

    from tests.support.cli import PLATFORM
    from tests.support.jupyter import JupyterServer

    catalogue = tmp_path / "clusters.json"
    cluster = {"name": "analytix", "kind": "local", "master": "local[1]", "auth": "kerberos"}
    catalogue.write_text(json.dumps({"clusters": [{**cluster, "token_service": f"{negotiate_service}/token"}]}))
    (tmp_path / "workspace").mkdir()
    env = {**kdc.env, "CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(spark_view)}
    args = [f"--Cygnet.spark_clusters={catalogue}", "--Cygnet.spark_port_range=41100-41111"]
    with JupyterServer(env={**env, "SPARK_LOCAL_IP": "127.0.0.1"}, root=tmp_path / "workspace", args=args) as server:
        kernel = server.kernel(f"sparktest__{PLATFORM}".lower())
        try:
            refused = kernel.run("%spark connect --cluster analytix", timeout=120)
            assert "the Spark cluster analytix needs Kerberos and there is no valid ticket" in refused, refused
            made = server.post("/cygnet/api/kerberos", json={"password": "alice-password", "principal": "alice"})
            assert made.status_code == 200, made.text
            assert "fetched the delegation tokens for analytix" in server.log()
            out = kernel.run("%spark connect --cluster analytix", timeout=300)
            assert "connected to analytix" in out, out
            seen = kernel.run(
                "import os\n"
                "jvm = spark.sparkContext._jvm\n"
                "owner = jvm.org.apache.hadoop.io.Text('cygnet.test.owner')\n"
                "ugi = jvm.org.apache.hadoop.security.UserGroupInformation.getCurrentUser()\n"
                "print(bytes(ugi.getCredentials().getSecretKey(owner)).decode())\n"
                "print(jvm.java.lang.System.getenv('KRB5CCNAME') == os.environ['KRB5CCNAME'] == "
                f"{made.json()['ccache']!r})",
                timeout=120,
            )
            # The driver's Hadoop client loaded the server's tokens and has the user's cache.
            assert seen.split("\n")[:2] == [f"alice@{REALM}", "True"], seen
            kernel.run("%spark disconnect", timeout=60)
        finally:
            kernel.shutdown()
