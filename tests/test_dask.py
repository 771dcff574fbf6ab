"""Dask beside Spark: the catalogue's Dask kinds, `%dask` and `cygnet.dask` in real kernels
through the Jupyter server, a real LocalCluster and a real dask-gateway-server (its local
backend, started here), the dashboard through the server, no leaked clusters after kill -9,
and zarr and parquet on the test xrootd and the WebDAV box."""

import json
import os
import shlex
import signal
import time
from pathlib import Path

import pytest
import requests

from cygnet.compute.catalogue import load_catalogue, parse_catalogue
from cygnet.core.errors import BadInput, NotFound
from tests.support.cli import PLATFORM
from tests.support.jupyter import JupyterServer, free_port, scraped
from tests.support.waiting import wait_for

PORTS = (41200, 41219)
KERNEL = f"sparktest__{PLATFORM}".lower()


# --- in process: the catalogue, sizes, storage options, the gateway's configuration ------------------
def test_the_catalogue_lists_dask_clusters_beside_spark_ones():
    embedded = load_catalogue()
    assert embedded.names() == ["local", "dask-local"] and embedded.names("dask") == ["dask-local"]
    site = parse_catalogue(
        {
            "clusters": [
                {"name": "local", "kind": "local"},
                {"name": "gw", "kind": "dask-gateway", "address": "https://dask.example.org/", "auth": "jupyterhub"},
            ]
        }
    )
    assert site.names() == ["local", "gw"], "a site that names a Dask cluster gets no dask-local added"
    gw = site.cluster("gw", engine="dask")
    assert (gw.engine, gw.address, gw.to_dict()["engine"]) == ("dask", "https://dask.example.org", "dask")
    with pytest.raises(BadInput, match="is a Dask cluster.*%dask connect"):
        site.cluster("gw", engine="spark")
    with pytest.raises(BadInput, match="is a Spark cluster.*%spark connect"):
        site.cluster("local", engine="dask")
    with pytest.raises(NotFound, match="no Dask cluster 'x' here \\(clusters: gw\\)"):
        site.cluster("x", engine="dask")


@pytest.mark.parametrize(
    "cluster, words",
    [
        ({"name": "g", "kind": "dask-gateway"}, "needs address"),
        ({"name": "g", "kind": "dask-gateway", "address": "ftp://x"}, "needs address"),
        ({"name": "g", "kind": "dask-gateway", "address": "http://x", "auth": "magic"}, "auth is one of"),
        ({"name": "g", "kind": "dask-gateway", "address": "http://x", "proxy_address": "x:1"}, "gateway://"),
        ({"name": "d", "kind": "dask-local", "master": "local[2]"}, "master is not a field of Dask clusters"),
        ({"name": "d", "kind": "dask-local", "address": "http://x"}, "no address"),
        ({"name": "d", "kind": "dask-local", "max_workers": -1}, "whole number"),
        ({"name": "s", "kind": "local", "max_workers": 3}, "max_workers is not a field of Spark clusters"),
    ],
)
def test_bad_dask_clusters_are_refused_with_the_reason(cluster, words):
    with pytest.raises(BadInput, match=words):
        parse_catalogue({"clusters": [cluster]})


def test_sizes_are_checked_before_anything_starts(monkeypatch):
    from cygnet.dask import session

    monkeypatch.setenv("CPU_LIMIT", "3")
    monkeypatch.setenv("MEM_LIMIT", str(6 * 2**30))
    assert session.session_size() == (3, 6 * 2**30)
    local = load_catalogue().cluster("dask-local")
    assert session.max_workers(local) == 3
    with pytest.raises(BadInput, match="10000 workers is more than dask-local allows \\(3, set by this session's"):
        session._checked_size(local, 10000, None)
    with pytest.raises(BadInput, match="not both"):
        session._checked_size(local, 1, (1, 2))
    with pytest.raises(BadInput, match="minimum <= maximum"):
        session._checked_size(local, None, (3, 1))
    assert session._checked_options(["worker_cores=2", "view = a/b"]) == {"worker_cores": "2", "view": "a/b"}
    with pytest.raises(BadInput, match="key=value"):
        session._checked_options(["nokey"])


def test_a_private_clusters_credentials_are_an_ecdsa_pair_of_its_own():
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from cygnet.dask.private import temporary_security

    one, other = temporary_security(), temporary_security()
    cert = x509.load_pem_x509_certificate(one.tls_ca_file.encode())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert one.require_encryption and one.tls_ca_file != other.tls_ca_file
    assert one.tls_client_cert == one.tls_scheduler_cert == one.tls_worker_cert == one.tls_ca_file
    for role in ("client", "scheduler", "worker"):  # the TLS contexts distributed makes from them
        assert one.get_connection_args(role)["ssl_context"] is not None


def test_storage_options_for_eos_and_box_urls(monkeypatch):
    import fsspec

    from cygnet.dask import storage_options

    assert storage_options("root://eos.example.org//eos/user/a/x.zarr") == {}
    monkeypatch.setenv("CYGNET_BOX_USER", "alice")
    monkeypatch.setenv("CYGNET_BOX_PASSWORD", "pw")
    options = storage_options("webdavs://box.example.org/remote.php/dav/x.zarr")
    assert options["auth"] == ("alice", "pw")
    fs, path = fsspec.core.url_to_fs("webdavs://box.example.org:8443/remote.php/dav/x.zarr", **options)
    assert path == "remote.php/dav/x.zarr" and str(fs.client.base_url) == "https://box.example.org:8443/"
    with pytest.raises(BadInput, match="not in the URL"):
        storage_options("webdav://alice:pw@box.example.org/x")
    with pytest.raises(BadInput, match="root:// and webdav"):
        storage_options("s3://bucket/x")


def test_the_gateways_configuration_runs_workers_in_the_chosen_view(tmp_path):
    from traitlets.config import Config

    from cygnet.hub.dask_gateway import configure, encrypt_key, write_config
    from tests.support.views import lcg_view

    roots = tmp_path / "views"
    for release in ("LCG_1", "LCG_2"):
        lcg_view(roots, release, "x")
    path = write_config(
        tmp_path,
        {
            "address": "127.0.0.1:1",
            "proxy_address": "127.0.0.1:2",
            "auth": "jupyterhub",
            "hub_api_url": "http://127.0.0.1:8081/hub/api",
            "backend": "local",
            "idle_timeout": 900,
            "views_roots": [str(roots)],
            "views_refresh_seconds": 0,
            "default_view": "LCG_2/x",
            "python_path": "/opt/cygnet/share/cygnet/kernel-path/abc",
        },
    )
    assert "configure(c," in path.read_text()
    c = Config()
    configure(c, str(tmp_path / "dask_gateway_settings.json"))
    assert c.DaskGateway.authenticator_class.endswith("JupyterHubAuthenticator")
    assert c.DaskGateway.backend_class.endswith("UserLocalBackend") and c.ClusterConfig.idle_timeout == 900
    options = c.Backend.cluster_options(None)
    chosen = options.get_specification()
    assert [f["field"] for f in chosen] == ["worker_cores", "worker_memory", "view", "kerberos_cache"]
    assert chosen[2]["spec"]["options"] == ["LCG_1/x", "LCG_2/x"] and chosen[2]["default"] == "LCG_2/x"
    config = options.get_configuration({"view": "LCG_1/x", "worker_cores": 2}, None)
    assert config["worker_cores"] == 2 and f"{roots}/LCG_1/x/setup.sh" in config["worker_cmd"][2]
    assert config["worker_cmd"][-1] == "distributed.cli.dask_worker"
    assert "export PYTHONPATH=/opt/cygnet/share/cygnet/kernel-path/abc" in config["scheduler_cmd"][2]
    assert "clusters_directory" not in c.LocalBackend, "users' clusters get the gateway's own private folders"
    # Workers as the user get the session's ticket cache; a cache that is not a plain file is refused.
    config = options.get_configuration({"view": "LCG_1/x", "kerberos_cache": "FILE:/home/a/.krb5cc"}, None)
    assert config["environment"] == {"KRB5CCNAME": "FILE:/home/a/.krb5cc"}
    for bad in ("KEYRING:persistent:0", "FILE:relative", "FILE:/a/../b", "FILE:/a\nb"):
        with pytest.raises(ValueError, match="kerberos_cache"):
            options.get_configuration({"view": "LCG_1/x", "kerberos_cache": bad}, None)
    # A release added to the views roots is offered without restarting anything.
    lcg_view(roots, "LCG_3", "x")
    assert "LCG_3/x" in c.Backend.cluster_options(None).get_specification()[2]["spec"]["options"]
    # Clusters that all run as the hub's account are offered no cache: a user could name another's.
    settings = json.loads((tmp_path / "dask_gateway_settings.json").read_text())
    write_config(tmp_path, {**settings, "backend": "unsafe-local"})
    shared = Config()
    configure(shared, str(tmp_path / "dask_gateway_settings.json"))
    assert "kerberos_cache" not in [f["field"] for f in shared.Backend.cluster_options(None).get_specification()]
    # On Slurm: the user's jobs, in the site's partition and account, the scheduler's size the site's.
    slurm = {"partition": "dask", "account": "physics", "scheduler_memory_gib": 0.5}
    write_config(
        tmp_path,
        {
            **settings,
            "backend": "slurm",
            "slurm": slurm,
            "db_url": "sqlite:///x.db",
            "encrypt_key_file": str(encrypt_key(tmp_path)),
        },
    )
    batch = Config()
    configure(batch, str(tmp_path / "dask_gateway_settings.json"))
    assert batch.DaskGateway.backend_class == "cygnet.hub.dask_gateway_backend.UserSlurmBackend"
    assert (batch.SlurmClusterConfig.partition, batch.SlurmClusterConfig.account) == ("dask", "physics")
    assert batch.SlurmClusterConfig.scheduler_memory == "512M" and batch.DBBackendBase.db_url == "sqlite:///x.db"
    assert "kerberos_cache" in [f["field"] for f in batch.Backend.cluster_options(None).get_specification()]


def test_the_slurm_backend_submits_as_the_user_with_each_word_of_a_views_command_quoted():
    from cygnet.hub.dask_gateway import view_command
    from cygnet.hub.dask_gateway_backend import UserSlurmBackend

    backend = UserSlurmBackend()
    assert os.path.basename(backend.dask_gateway_jobqueue_launcher) == "dask-gateway-jobqueue-launcher"
    command = view_command("/views/LCG 1/setup.sh", "distributed.cli.dask_worker")
    cluster = type(
        "Cluster", (), {"config": type("Config", (), {"worker_cmd": command})(), "scheduler_address": "tls://a:1"}
    )
    backend.worker_nthreads_memory_limit_args = lambda cluster: ("1", "1G")
    words = backend.get_worker_command(cluster, "w1")
    assert shlex.split(" ".join(words))[:4] == command, "the job script's line gives bash its script as one word"


def test_gateway_workers_get_cygnets_kernel_side_packages_and_nothing_else(tmp_path):
    import subprocess

    from cygnet.hub.dask_gateway import view_command, workers_python_path

    path = workers_python_path(["cygnet.core", "cygnet.storage"], tmp_path)
    setup = tmp_path / "setup.sh"
    setup.write_text("export PYTHONPATH=/view/lib\n")
    script = view_command(setup, "x", path)[2].replace("exec python -m x", 'echo "$PYTHONPATH"')
    assert subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.strip() == f"{path}:/view/lib"
    assert sorted(p.name for p in (Path(path) / "cygnet").iterdir()) == ["core", "storage"]


def test_a_batch_run_on_a_dask_cluster_connects_dask_first(tmp_path):
    import nbformat

    from cygnet.runs.execute import prepared_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    path, _ = prepared_notebook(
        {"input": str(tmp_path / "a.ipynb"), "cluster": "dask-local", "engine": "dask"}, tmp_path
    )
    assert nbformat.read(str(path), as_version=4).cells[0].source == "%dask connect --cluster dask-local"


# --- real clusters through a real server --------------------------------------------------------------
@pytest.fixture(scope="module")
def gateway(tmp_path_factory, spark_view):
    from tests.support.dask_gateway import Gateway

    gw = Gateway(tmp_path_factory.mktemp("gateway"), [spark_view])
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def dask_server(tmp_path_factory, spark_view, gateway, webdav):
    catalogue = {
        "clusters": [
            {"name": "local", "kind": "local"},
            {"name": "dask-local", "kind": "dask-local"},
            gateway.catalogue_entry("gateway"),
            {"name": "nowhere", "kind": "dask-gateway", "address": f"http://127.0.0.1:{free_port()}"},
        ]
    }
    path = tmp_path_factory.mktemp("dask-site") / "clusters.json"
    path.write_text(json.dumps(catalogue))
    srv = JupyterServer(
        env={
            "SPARK_LOCAL_IP": "127.0.0.1",
            "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("dask-data")),
            "CYGNET_VIEWS_PATH": str(spark_view),
            **webdav["env"],
        },
        root=tmp_path_factory.mktemp("dask-workspace"),
        args=[
            f"--Cygnet.spark_clusters={path}",
            f"--Cygnet.spark_port_range={PORTS[0]}-{PORTS[1]}",
            "--Cygnet.dask_sweep_interval=1",
            "--Cygnet.build_default_view=False",
        ],
    )
    srv.start()
    yield srv
    srv.stop()


def dask_status(kernel):
    return json.loads(kernel.run("import json, cygnet.dask; print(json.dumps(cygnet.dask.status()))", stdout_only=True))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_dask_local_connects_scales_adapts_and_runs_the_views_modules(dask_server):
    kernel = dask_server.kernel(KERNEL)
    try:
        out = kernel.run("%dask connect --workers 1", timeout=180)
        assert "Dask: connected to dask-local (dask-local), 1 worker(s)" in out, out
        # The workers are processes of the view's Python: they import what only the view has.
        # Only the cell's stdout: a worker's log line on the shared stderr may land in any cell.
        done = kernel.run("print(client.submit(__import__('cygnet_view_only').tag, 7).result())", stdout_only=True)
        assert done.strip() == "view-7", done
        kernel.run("%dask scale 2")
        kernel.run("client.wait_for_workers(2, timeout=60)", timeout=90)
        state = dask_status(kernel)
        assert (state["state"], state["workers"], state["requested"]) == ("connected", 2, 2), state
        assert state["memory"] > 0 and state["threads"] >= 2
        metrics = scraped(dask_server)  # the kernel's cluster in the session's metrics
        assert metrics['cygnet_dask_clusters{kind="dask-local"}'] >= 1, metrics
        assert metrics['cygnet_dask_workers{kind="dask-local"}'] >= 2, metrics
        kernel.run("%dask adapt 1 2")
        assert dask_status(kernel)["adapt"] == [1, 2]
        # The dashboard through the server, behind its login, and only this server's ports.
        url = state["dashboard_url"]
        assert url.startswith("/cygnet/dask-dashboard/") and url.endswith("/status"), url
        page = dask_server.get(url)
        assert page.status_code == 200 and "Dask" in page.text, (page.status_code, page.text[:200])
        assert requests.get(dask_server.url + url, allow_redirects=False, timeout=30).status_code in (302, 403)
        assert dask_server.get("/cygnet/dask-dashboard/22/status").status_code == 404
        # JupyterLab's Dask panels (dask-labextension) find the dashboard at that address.
        from urllib.parse import quote

        check = dask_server.get("/dask/dashboard-check/" + quote(quote(url, safe=""), safe=""))
        assert check.status_code == 200 and check.json()["isActive"] is True, check.text
        # Its NEW button does not start a cluster in the server (outside any view).
        made = dask_server.http.put(dask_server.url + "/dask/clusters", json={}, timeout=60)
        assert made.status_code >= 400 and "start from a notebook" in made.text, (made.status_code, made.text[:300])
        assert kernel.run("%dask disconnect", stdout_only=True).strip() == "Dask: disconnected"
        assert dask_status(kernel)["state"] == "disconnected"
    finally:
        kernel.shutdown()


def test_the_comm_speaks_sparks_protocol_shape(dask_server):
    kernel = dask_server.kernel(KERNEL)
    try:
        comm = kernel.comm_open("cygnet.dask")
        first = kernel.comm_messages(comm, until=lambda m: m.get("action") == "state", timeout=60)
        assert first[-1]["state"]["engine"] == "dask" and first[-1]["state"]["state"] == "disconnected"
        kernel.comm_send(comm, {"action": "connect", "cluster": "dask-local", "workers": 1})
        msgs = kernel.comm_messages(
            comm, until=lambda m: m.get("action") == "state" and m["state"]["state"] == "connected", timeout=180
        )
        assert any(m.get("state", {}).get("state") == "connecting" for m in msgs)
        kernel.comm_send(comm, {"action": "scale", "workers": 10000})
        error = kernel.comm_messages(comm, until=lambda m: m.get("action") == "error", timeout=30)[-1]
        assert "10000 workers is more than dask-local allows" in error["message"]
        assert error["state"]["state"] == "connected", "a refused scale leaves the cluster as it was"
        kernel.comm_send(comm, {"action": "disconnect"})
        kernel.comm_messages(
            comm, until=lambda m: m.get("action") == "state" and m["state"]["state"] == "disconnected", timeout=60
        )
    finally:
        kernel.shutdown()


def test_connect_without_arguments_reuses_the_notebooks_saved_choice(dask_server):
    from tests.support.jupyter import KernelClient

    name = "saved-dask.ipynb"
    notebook = {"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    notebook["metadata"]["cygnet"] = {"dask": {"cluster": "dask-local", "adapt": [1, 2], "options": {}}}
    (dask_server.root / name).write_text(json.dumps(notebook))
    session = dask_server.post(
        "/api/sessions", json={"path": name, "type": "notebook", "name": name, "kernel": {"name": KERNEL}}
    ).json()
    kernel = KernelClient(dask_server, session["kernel"]["id"])
    try:
        out = kernel.run("%dask connect", timeout=180)
        assert "adapting between 1 and 2" in out, out
    finally:
        kernel.shutdown()


def kernel_pid(kernel):
    return int(kernel.run("import os; print(os.getpid())", stdout_only=True))


def test_a_killed_kernels_local_workers_go_with_it(dask_server):
    kernel = dask_server.kernel(KERNEL)
    kernel.run("%dask connect --workers 2", timeout=180)
    kernel.run("client.wait_for_workers(2, timeout=60)", timeout=90)
    workers = json.loads(
        kernel.run("import os, json; print(json.dumps(list(client.run(os.getpid).values())))", stdout_only=True)
    )
    assert len(workers) == 2
    os.kill(kernel_pid(kernel), signal.SIGKILL)
    wait_for(lambda: not any(alive(p) for p in workers), "the workers of a killed kernel exit", 30)


def test_a_gateway_cluster_in_the_view_and_stopped_when_its_kernel_is_killed(dask_server, gateway, eos_server):
    import getpass

    user = getpass.getuser()
    before = gateway.clusters(user)
    kernel = dask_server.kernel(KERNEL)
    out = kernel.run("%dask connect --cluster gateway --workers 1 --option worker_memory=1", timeout=240)
    assert "Dask: connected to gateway (dask-gateway)" in out, out
    kernel.run("client.wait_for_workers(1, timeout=120)", timeout=150)
    tagged = kernel.run(
        "print(client.submit(__import__('cygnet_view_only').tag, 3).result())", timeout=60, stdout_only=True
    )
    assert tagged.strip() == "view-3"
    # dask-gateway's clusters are private already: TLS with a certificate of the cluster's own.
    tls = kernel.run(
        "args = client.security.get_connection_args('client')\n"
        "print(args['require_encryption'], args['ssl_context'].verify_mode.name,"
        " client.scheduler.address.split(':')[0])"
    ).split()
    assert tls == ["True", "CERT_REQUIRED", "gateway"], tls
    # The workers have Cygnet's storage adapters, as a kernel has: they write and read root:// chunks.
    eos = f"{eos_server.url}//eos/gateway-{os.getpid()}"
    code = f"""
import dask.array as da, cygnet.dask, cygnet.storage
cygnet.storage.mkdir({eos!r})
cygnet.dask.to_zarr(da.arange(1000, chunks=100), {eos!r} + "/g.zarr")
print(int(da.from_zarr({eos!r} + "/g.zarr", storage_options=cygnet.dask.storage_options({eos!r})).sum().compute()))
"""
    assert kernel.run(code, timeout=120, stdout_only=True).strip().splitlines()[-1] == str(sum(range(1000)))
    mine = [c for c in gateway.clusters(user) if c not in before]
    assert len(mine) == 1
    assert gateway.clusters("someone-else") == [], "another user sees none of them"
    os.kill(kernel_pid(kernel), signal.SIGKILL)
    wait_for(lambda: mine[0] not in gateway.clusters(user), "the killed kernel's gateway cluster stops", 60)


def test_a_gateway_cluster_no_client_uses_stops_itself(tmp_path, spark_view):
    """The gateway's own guard (Cygnet's hub sets it from CygnetHub.dask_gateway_idle_timeout)."""
    from dask_gateway import Gateway as Client
    from dask_gateway.auth import BasicAuth

    from tests.support.dask_gateway import Gateway

    gateway = Gateway(tmp_path, [spark_view], idle_timeout=3)
    try:
        client = Client(
            gateway.address, proxy_address=f"gateway://127.0.0.1:{gateway.proxy_port}", auth=BasicAuth("idle")
        )
        cluster = client.new_cluster(shutdown_on_close=False)
        name = cluster.name
        cluster.close()  # the notebook went away without stopping it
        assert gateway.clusters("idle") == [name]
        wait_for(lambda: gateway.clusters("idle") == [], "an idle gateway cluster stops itself", 60)
        client.close()
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    "line, words",
    [
        ("%dask connect --cluster nope", "no Dask cluster 'nope' here"),
        ("%dask connect --cluster local", "is a Spark cluster"),
        ("%dask connect --cluster nowhere", "does not answer"),
        ("%dask connect --workers 10000", "10000 workers is more than dask-local allows"),
        ("%dask connect --cluster gateway --option colour=red", "the gateway has no option 'colour'"),
        ("%dask scale 2", "no Dask cluster: %dask connect first"),
        ("%spark connect --cluster dask-local", "is a Dask cluster"),
    ],
)
def test_bad_input_is_answered_clearly_and_quickly(dask_server, line, words):
    kernel = dask_server.kernel(KERNEL)
    try:
        started = time.monotonic()
        _, out, err = kernel.execute(line, timeout=60)
        assert words in out + err, out + err
        assert "Traceback" not in err
        assert time.monotonic() - started < 30
        assert kernel.run("print(1 + 1)", stdout_only=True).strip() == "2", "the kernel stays usable"
    finally:
        kernel.shutdown()


def test_zarr_and_parquet_on_eos_and_the_box_read_in_parallel(dask_server, eos_server, webdav):
    eos = f"{eos_server.url}//eos/dask-{os.getpid()}"
    box = f"{webdav['url']}/dask-{os.getpid()}"
    kernel = dask_server.kernel(KERNEL)
    try:
        kernel.run("%dask connect --workers 2", timeout=180)
        code = f"""
import dask.array as da, dask.dataframe as dd, numpy as np, pandas as pd, xarray as xr, cygnet.dask, cygnet.storage
client.wait_for_workers(2, timeout=60)
results = []
for base in ({eos!r}, {box!r}):
    if base.startswith("root:"):
        cygnet.storage.mkdir(base)
    so = cygnet.dask.storage_options(base)
    ds = xr.Dataset({{"x": (("t", "c"), da.arange(4000, chunks=500).reshape(1000, 4).rechunk((100, 4)))}})
    cygnet.dask.to_zarr(ds, base + "/cube.zarr")
    back = xr.open_zarr(base + "/cube.zarr", storage_options=so)
    results.append(int(back.x.sum().compute()))
    df = dd.from_pandas(pd.DataFrame({{"run": np.arange(100) % 5, "pt": np.arange(100.0)}}), npartitions=4)
    df.to_parquet(base + "/events.parquet", storage_options=so)
    read = dd.read_parquet(base + "/events.parquet", storage_options=so)
    results.append(float(read.pt.sum().compute()))
    results.append(len(pd.read_parquet(base + "/events.parquet", storage_options=so)))
    import dask, fsspec
    with dask.config.set(scheduler="synchronous"), fsspec.open(base + "/small.nc", "wb", **so) as f:
        # xarray's in-memory NetCDF writer cannot take distributed's locks: made here, in the kernel
        f.write(bytes(xr.Dataset({{"t": (("x",), np.arange(10.0))}}).to_netcdf(engine="h5netcdf")))
    nc = xr.open_dataset(base + "/small.nc", engine="h5netcdf", storage_options=so, chunks={{}})
    results.append(float(nc.t.sum().compute()))
print(results)
"""
        out = kernel.run(code, timeout=300).strip().splitlines()
        assert out[-1] == str([sum(range(4000)), 4950.0, 100, 45.0] * 2), out
        # A write that fails half-way leaves no store that looks complete.
        _, out, err = kernel.execute(
            f"""
def boom(block):
    if block.sum() > 1000:
        raise RuntimeError("disk full")
    return block
bad = xr.Dataset({{"x": (("t",), da.arange(4000, chunks=500).map_blocks(boom))}})
cygnet.dask.to_zarr(bad, {eos!r} + "/broken.zarr")
""",
            timeout=120,
        )
        assert "disk full" in err
        listing = kernel.run(f"print(sorted(e['name'] for e in cygnet.storage.ls({eos!r})))", stdout_only=True)
        assert "broken.zarr" not in listing.replace(".broken.zarr", "") and "cube.zarr" in listing, listing
        _, out, err = kernel.execute(f"cygnet.dask.to_zarr(ds, {eos!r} + '/cube.zarr')")
        assert "exists: remove it first" in err
    finally:
        kernel.shutdown()
