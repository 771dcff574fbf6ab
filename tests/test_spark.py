"""The Spark connector against real Spark: a standalone cluster from `cygnet spark up`, a Spark
Connect server, managed Connect servers, and real Cygnet kernels on a view with Spark.
YARN and Kubernetes cannot run here: only their generated configuration is checked."""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from cygnet.compute.catalogue import load_catalogue, parse_catalogue
from cygnet.compute.ports import PortLease, leased_outside
from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.spark.conf import cluster_conf, effective_conf, fill_placeholders, parse_option, view_conf
from tests.support.cli import PLATFORM, cygnet
from tests.support.jupyter import JupyterServer, free_port, scraped
from tests.support.waiting import wait_for

SPARK_ENV = {"SPARK_LOCAL_IP": "127.0.0.1"}
PORTS = (41000, 41011)
OTHER_PYTHONS = ["/root/.pyenv/versions/3.12.1/bin/python3", "/usr/bin/python3.12"]  # where a machine has one

CATALOGUE = {
    "clusters": [
        {"name": "local", "kind": "local", "master": "local[2]"},
        {"name": "standalone", "kind": "standalone", "master": "MASTER", "ui": "http://masterui:8080"},
        {"name": "connect", "kind": "connect", "remote": "REMOTE"},
        {"name": "mine", "kind": "connect-managed", "display_name": "My own Spark Connect"},
        {"name": "dead", "kind": "standalone", "master": "spark://127.0.0.1:DEADPORT"},
        {"name": "analytix", "kind": "yarn", "conf": {"spark.yarn.queue": "physics"}},
        {
            "name": "cloud",
            "kind": "k8s",
            "master": "k8s://https://k8s.example.org:6443",
            "namespace": "spark",
            "image": "registry.example.org/spark:4.0",
        },
    ],
    "bundles": [
        {
            "name": "tuned",
            "options": [
                {"name": "spark.sql.shuffle.partitions", "value": "7"},
                {"name": "spark.executorEnv.CYGNET_TAG", "value": "{CYGNET_TEST_TAG}-a"},
                {"name": "spark.driver.extraJavaOptions", "value": "-Dcygnet.b=2", "concatenate": " "},
            ],
        },
        {"name": "base-java", "options": [{"name": "spark.driver.extraJavaOptions", "value": "-Dcygnet.a=1"}]},
        {
            "name": "yarn-only",
            "clusters": ["analytix"],
            "options": [{"name": "spark.yarn.maxAppAttempts", "value": "1"}],
        },
    ],
    "options": [{"name": "spark.cygnet.site.option", "category": "Site", "description": "a site option"}],
}


# --- the catalogue and the configuration, pure functions -----------------------------------------------
def test_catalogue_bundles_concatenate_and_placeholders():
    cat = parse_catalogue(
        json.loads(
            json.dumps(CATALOGUE)
            .replace("MASTER", "spark://h:7077")
            .replace("REMOTE", "sc://h:15002")
            .replace("DEADPORT", "1")
        )
    )
    assert [b.name for b in cat.bundles_for("local")] == ["tuned", "base-java"]
    assert [b.name for b in cat.bundles_for("analytix")] == ["tuned", "base-java", "yarn-only"]
    cluster, conf = effective_conf(
        cat, "local", ["base-java", "tuned"], ["spark.executor.memory=2g"], {"CYGNET_TEST_TAG": "x"}
    )
    assert conf["spark.driver.extraJavaOptions"] == "-Dcygnet.a=1 -Dcygnet.b=2"  # appended, not replaced
    assert conf["spark.executorEnv.CYGNET_TAG"] == "x-a" and conf["spark.executor.memory"] == "2g"
    _, conf = effective_conf(cat, "local", ["tuned"], {}, {"CYGNET_TEST_TAG": "y"})
    assert conf["spark.driver.extraJavaOptions"] == "-Dcygnet.b=2"  # nothing to append to
    with pytest.raises(BadInput, match="is not for cluster"):
        effective_conf(cat, "local", ["yarn-only"])
    with pytest.raises(BadInput, match=r"\$CYGNET_TEST_TAG is not set"):
        effective_conf(cat, "local", ["tuned"], {}, {})
    with pytest.raises(NotFound, match="no configuration bundle 'nope'"):
        effective_conf(cat, "local", ["nope"])
    with pytest.raises(NotFound, match="no Spark cluster 'nope'"):
        effective_conf(cat, "nope")
    assert fill_placeholders("{{literal}} {HOME}", {"HOME": "/h"}) == "{literal} /h"
    assert any(o["name"] == "spark.cygnet.site.option" for o in cat.known_options())


def test_yarn_and_k8s_configuration_is_generated():
    # No YARN or Kubernetes can run here: the configuration handed to Spark is what is checked.
    cat = parse_catalogue({"clusters": [c for c in CATALOGUE["clusters"] if c["name"] in ("analytix", "cloud")]})
    yarn = cat.cluster("analytix")
    assert yarn.master == "yarn" and cluster_conf(yarn) == {"spark.submit.deployMode": "client"}
    assert effective_conf(cat, "analytix")[1] == {"spark.yarn.queue": "physics"}
    k8s = cluster_conf(cat.cluster("cloud"))
    assert k8s["spark.kubernetes.namespace"] == "spark"
    assert k8s["spark.kubernetes.container.image"] == "registry.example.org/spark:4.0"
    conf = view_conf("/views/x/bin/python", {"PYTHONPATH": "/views/x/lib", "CYGNET_VIEW": "x/p"}, [41000, 41001, 41002])
    assert (
        conf["spark.pyspark.python"] == "/views/x/bin/python" and conf["spark.executorEnv.PYTHONPATH"] == "/views/x/lib"
    )
    assert (conf["spark.driver.port"], conf["spark.driver.blockManager.port"], conf["spark.ui.port"]) == (
        "41000",
        "41001",
        "41002",
    )


@pytest.mark.parametrize(
    "catalogue, words",
    [
        ({"clusters": [{"name": "x", "kind": "mesos"}]}, "kind must be one of"),
        ({"clusters": [{"name": "x", "kind": "standalone", "master": "http://h"}]}, "spark://host:port"),
        ({"clusters": [{"name": "x", "kind": "connect"}]}, "sc://host:port"),
        ({"clusters": [{"name": "x", "kind": "local"}, {"name": "x", "kind": "local"}]}, "used twice"),
        ({"clusters": [{"name": "../x", "kind": "local"}]}, "cluster name"),
        ({"bundles": [{"name": "b", "options": [{"name": "not.spark", "value": "1"}]}]}, "not an option name"),
        ({"clusters": "local"}, "must be a list"),
        ({"clusterz": []}, "expected a mapping"),
        ({"clusters": [{"name": "x", "kind": "yarn", "auth": "basic"}]}, "auth is kerberos or absent"),
        ({"clusters": [{"name": "x", "kind": "yarn", "token_service": "https://t"}]}, "with auth: kerberos"),
        (
            {"clusters": [{"name": "x", "kind": "yarn", "auth": "kerberos", "token_service": "https://u:p@t"}]},
            "an http",
        ),
    ],
)
def test_bad_catalogues_are_refused_with_the_reason(catalogue, words):
    with pytest.raises(BadInput, match=words):
        parse_catalogue(catalogue)


def test_catalogue_files_yaml_json_and_missing(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "clusters:\n  - {name: local, kind: local}\n  - {name: s, kind: standalone, master: 'spark://h:1'}\n"
    )
    # A catalogue that names no Dask cluster gets dask-local, as Spark's embedded one has local.
    assert [c.name for c in load_catalogue(tmp_path / "c.yaml").clusters] == ["local", "s", "dask-local"]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        load_catalogue(tmp_path / "bad.json")
    with pytest.raises(NotFound, match="does not exist"):
        load_catalogue(tmp_path / "missing.yaml")
    assert [c.name for c in load_catalogue().clusters] == ["local", "dask-local"]  # the embedded default
    for bad in ("spark.x", "x=1", "=1"):
        with pytest.raises(BadInput):
            parse_option(bad)


def test_port_leases_are_exclusive_and_come_back_when_their_holder_dies(tmp_path):
    locks, low = tmp_path / "locks", free_port()
    span = f"{low}-{low + 40}"
    first = PortLease(locks, span)
    second = PortLease(locks, span)
    assert not set(first.ports) & set(second.ports)
    taken = list(first.ports)
    first.release()
    again = PortLease(locks, span)
    assert again.ports == taken  # released ports are reused
    again.release()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; sys.path[:0] = sys.argv[1:]; from cygnet.compute.ports import PortLease; "
                f"l = PortLease({str(locks)!r}, {span!r}); print(l.ports, flush=True); time.sleep(60)"
            ),
            *sys.path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    held = json.loads(holder.stdout.readline())
    probe = PortLease(locks, span, count=2)
    assert not set(held) & set(probe.ports) and not set(held) & set(second.ports)
    probe.release()
    for port in held:  # a live kernel's ports cannot be taken: the lease goes outside the range, and says so
        outside = PortLease(locks, f"{port}-{port}", count=1)
        assert outside.ports != [port] and "outside it" in outside.note
        taken_outside = outside.ports[0]
        assert leased_outside(taken_outside, locks)
        outside.release()
        assert not leased_outside(taken_outside, locks)
    holder.kill()
    holder.wait()
    more = PortLease(locks, span, count=50)  # more than the range has
    assert len(set(more.ports)) == 50 and re.search(r"had \d+ free port\(s\) of 50", more.note)
    more.release()
    for port in held:  # a dead kernel's ports are free again
        again = PortLease(locks, f"{port}-{port}", count=1)
        assert again.ports == [port]
        again.release()
    second.release()


def test_another_account_binding_a_whole_slice_does_not_stop_a_lease(tmp_path):
    """Ports taken by another program (another user squatting on this user's slice) are skipped,
    and a slice with none left leases free ports outside it instead of refusing the session."""
    low = free_port()
    squatters = []
    for port in range(low, low + 3):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            s.close()
            continue
        squatters.append(s)
    try:
        lease = PortLease(tmp_path / "locks", f"{low}-{low + 2}", count=3)
        assert not set(lease.ports) & {s.getsockname()[1] for s in squatters} and lease.note
        lease.release()
    finally:
        for s in squatters:
            s.close()


# --- real Spark ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    env = {**SPARK_ENV, "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("spark-cluster"))}
    up = cygnet("spark", "up", "--workers", "1", "--cores", "1", "--memory", "1g", "--json", env=env, timeout=300)
    assert up.returncode == 0, up.stderr
    state = json.loads(up.stdout)
    yield state
    assert cygnet("spark", "down", env=env).returncode == 0
    assert cygnet("spark", "status", env=env).returncode == 3


@pytest.fixture(scope="module")
def spark_server(tmp_path_factory, spark_view, standalone, connect_server):
    text = (
        json.dumps(CATALOGUE)
        .replace("http://masterui:8080", standalone["ui_url"])
        .replace("MASTER", standalone["master_url"])
        .replace("REMOTE", connect_server["url"])
        .replace("DEADPORT", str(free_port()))
    )
    catalogue = tmp_path_factory.mktemp("site") / "clusters.json"
    catalogue.write_text(text)
    env = {
        **SPARK_ENV,
        "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "CYGNET_VIEWS_PATH": str(spark_view),
        "CYGNET_TEST_TAG": "tagged",
    }
    srv = JupyterServer(
        env=env,
        root=tmp_path_factory.mktemp("workspace"),
        args=[
            f"--Cygnet.spark_clusters={catalogue}",
            f"--Cygnet.spark_port_range={PORTS[0]}-{PORTS[1]}",
            "--Cygnet.spark_preload_client=True",
            "--Cygnet.spark_server_check_every=2",
        ],
    )
    srv.start()
    yield srv
    srv.stop()


KERNEL = f"sparktest__{PLATFORM}".lower()


def status_of(kernel):
    return json.loads(kernel.run("import json, cygnet.spark; print(json.dumps(cygnet.spark.status()))"))


def test_rest_catalogue(spark_server):
    clusters = spark_server.get("/cygnet/api/spark/clusters").json()
    assert [c["name"] for c in clusters] == [c["name"] for c in CATALOGUE["clusters"]] + ["dask-local"]
    assert {c["engine"] for c in clusters} == {"spark", "dask"}
    assert [b["name"] for b in spark_server.get("/cygnet/api/spark/bundles", params={"cluster": "local"}).json()] == [
        "tuned",
        "base-java",
    ]
    assert len(spark_server.get("/cygnet/api/spark/bundles").json()) == 3
    assert spark_server.get("/cygnet/api/spark/bundles", params={"cluster": "nope"}).status_code == 404
    options = {o["name"]: o for o in spark_server.get("/cygnet/api/spark/options").json()}
    assert options["spark.executor.memory"]["category"] == "Executor" and "spark.cygnet.site.option" in options
    import requests

    assert requests.get(f"{spark_server.url}/cygnet/api/spark/clusters", timeout=10).status_code == 403


def test_local_session_runs_udfs_in_the_view_with_bundles_and_separate_ports(spark_server):
    first = spark_server.kernel(KERNEL)
    second = spark_server.kernel(KERNEL)
    try:
        out = first.run(
            "%spark connect --cluster local --bundle base-java --bundle tuned "
            "--conf spark.executorEnv.WHERE={CYGNET_VIEW}",
            timeout=300,
        )
        assert "connected to local" in out, out
        result = first.run(
            "from pyspark.sql.functions import udf\n"
            "import cygnet_view_only\n"
            "tag = udf(lambda x: __import__('cygnet_view_only').tag(x))\n"
            "print(sorted(r[0] for r in spark.range(3).select(tag('id')).collect()))\n"
            "print(spark.conf.get('spark.sql.shuffle.partitions'), spark.conf.get('spark.executorEnv.CYGNET_TAG'))\n"
            "print(spark.conf.get('spark.driver.extraJavaOptions'))\n"
            "print(sc.master, spark.conf.get('spark.executorEnv.WHERE'))",
            timeout=300,
        )
        assert "['view-0', 'view-1', 'view-2']" in result  # executors imported a module only the view has
        # Live progress for classic sessions: sparkmonitor's events reach a front end's comm.
        monitor = first.comm_open("SparkMonitor")
        first.run("spark.range(10).count()", timeout=120)
        # Spark's listener bus is asynchronous: the UDF job's late events may arrive first, so wait
        # for the end of a job whose start this comm saw.
        started = set()

        def job_seen_whole(data):
            event = json.loads(data.get("msg") or "{}")
            if event.get("msgtype") == "sparkJobStart":
                started.add(event["jobId"])
            return event.get("msgtype") == "sparkJobEnd" and event["jobId"] in started

        events = first.comm_messages(monitor, job_seen_whole, timeout=60)
        assert started and any('"COMPLETED"' in d.get("msg", "") for d in events), events
        # The driver's log goes to a file the panel follows, not into the cells.
        logs = first.run("%spark logs")
        assert "starting a Spark session on local" in logs and "Running Spark version" in logs
        assert " WARN " not in out and "default log4j profile" not in out
        assert "7 tagged-a" in result and "-Dcygnet.a=1 -Dcygnet.b=2" in result
        assert f"local[2] sparktest/{PLATFORM}" in result
        state = status_of(first)
        assert state["state"] == "connected" and state["cluster"] == "local"
        assert state["ui_url"] == f"/cygnet/spark-ui/{state['ports'][2]}/", state["ui_url"]
        assert all(PORTS[0] <= p <= PORTS[1] for p in state["ports"])

        second.run("%spark connect", timeout=300)  # a second notebook of the same user
        other = status_of(second)
        assert other["state"] == "connected" and not set(other["ports"]) & set(state["ports"])
        _, out, err = second.execute("%spark connect")
        assert "already connected to local: disconnect first" in out + err
        assert "Spark: disconnected" in first.run("%spark disconnect")
        assert (
            status_of(first)["state"] == "disconnected"
            and "name 'spark' is not defined" in first.execute("print(spark)")[2]
        )
        first.run("%spark connect --cluster local", timeout=300)
        # The freed ports are taken again (lowest free first). Not necessarily all of them: on a
        # busy machine another process may have held a lower port of the range at the first connect.
        again = status_of(first)["ports"]
        assert set(again) & set(state["ports"]), (again, state["ports"])
    finally:
        first.shutdown()
        second.shutdown()


def test_standalone_cluster_runs_jobs_on_its_executors(spark_server, standalone):
    kernel = spark_server.kernel(KERNEL)
    try:
        started = time.monotonic()
        too_big = kernel.run("%spark connect --cluster standalone --conf spark.executor.memory=8g", timeout=120)
        assert "cannot start an executor of 1 core(s) and 8192 MiB" in too_big, too_big
        assert "its largest worker has 1 core(s) and 1024 MiB" in too_big and time.monotonic() - started < 30
        other = next((p for p in OTHER_PYTHONS if os.path.exists(p)), None)
        if other:  # executors on another Python minor version: named at connect, not at the first UDF
            kernel.run(f"import os, sys; os.environ['PYSPARK_PYTHON'] = {other!r}")
            mismatch = kernel.run("%spark connect --cluster standalone", timeout=300)
            kernel.run("os.environ['PYSPARK_PYTHON'] = sys.executable")
            mine = "{}.{}".format(*sys.version_info[:2])  # the spark view is built from this Python
            assert f"the executors run Python 3.12, this kernel runs Python {mine}" in mismatch, mismatch
        connected = kernel.run("%spark connect --cluster standalone", timeout=300)
        assert "connected to standalone" in connected, connected
        out = kernel.run(
            "print(sc.master)\n"
            "tag = lambda x: __import__('cygnet_view_only').tag(x)\n"
            "print(spark.sparkContext.parallelize(range(4), 2).map(tag).collect())",
            timeout=300,
        )
        assert standalone["master_url"] in out and "['view-0', 'view-1', 'view-2', 'view-3']" in out
        # The executors' cores are recorded for the hub's usage ledger (cygnet.compute.usage), ended
        # at the disconnect.
        usage = (
            "from cygnet.compute import usage\n"
            "print(sorted((r['cluster'], r['cores'], bool(r['ended'])) for _, r in usage.read()))"
        )
        assert "('standalone', 2.0, False)" in kernel.run(usage), "its worker's core (Spark counts at least 2)"
        metrics = scraped(spark_server)
        assert metrics['cygnet_spark_sessions{kind="standalone"}'] == 1, metrics
        assert metrics['cygnet_spark_executor_cores{kind="standalone"}'] == 2, metrics
        kernel.run("%spark disconnect", timeout=120)
        assert "('standalone', 2.0, True)" in kernel.run(usage)
    finally:
        kernel.shutdown()


def test_connect_over_the_comm_with_progress_under_the_cell(spark_server, connect_server):
    kernel = spark_server.kernel(KERNEL)
    try:
        # spark_preload_client: the Connect client is imported in the background at start.
        assert (
            kernel.run(
                "import sys, time\n"
                "for _ in range(300):\n"
                "    if 'pyspark.sql.connect.session' in sys.modules: break\n"
                "    time.sleep(0.1)\n"
                "print('pyspark.sql.connect.session' in sys.modules)"
            )
            == "True\n"
        )
        comm = kernel.comm_open("cygnet.spark")
        first = kernel.comm_messages(comm, lambda d: d.get("action") == "state")
        assert first[-1]["state"]["state"] == "disconnected"
        kernel.comm_send(
            comm, {"action": "connect", "cluster": "connect", "options": {"spark.sql.shuffle.partitions": "3"}}
        )
        messages = kernel.comm_messages(
            comm,
            lambda d: (
                d.get("action") in ("error",)
                or (d.get("action") == "state" and d["state"]["state"] not in ("connecting",))
            ),
            timeout=120,
        )
        assert messages[-1]["action"] == "state" and messages[-1]["state"]["state"] == "connected", messages
        assert any(m.get("state", {}).get("state") == "connecting" for m in messages)
        # A job of a few seconds, so the server reports progress while it runs.
        out = kernel.run(
            "print(len(spark.range(0, 4, 1, 4).selectExpr("
            "\"reflect('java.lang.Thread', 'sleep', cast(2500 as bigint))\").collect()))",
            timeout=120,
        )
        assert out == "4\n"
        progress = [
            d["data"]["text/plain"]
            for d in kernel.displays
            if "cygnet-spark-progress" in d["data"].get("text/html", "")
        ]
        assert any("/4 tasks done" in p for p in progress), progress
        assert progress[-1].endswith("finished")
        assert "sc" not in kernel.run("print([n for n in ('spark', 'sc') if n in dir()])").replace("'spark'", "")
        kernel.comm_send(comm, {"action": "logs"})
        logs = kernel.comm_messages(comm, lambda d: d.get("action") == "logs")
        assert any("connecting to Spark Connect" in line for line in logs[-1]["lines"])
        kernel.comm_send(comm, {"action": "disconnect"})
        assert kernel.comm_messages(comm, lambda d: d.get("action") == "state")[-1]["state"]["state"] == "disconnected"
        kernel.comm_send(comm, {"action": "connect", "cluster": "nope"})
        error = kernel.comm_messages(comm, lambda d: d.get("action") == "error")[-1]
        assert "no Spark cluster 'nope'" in error["message"] and error["state"]["state"] == "error"
    finally:
        kernel.shutdown()


@pytest.mark.parametrize(
    "line, words",
    [
        ("%spark connect --cluster nope", "no Spark cluster 'nope'"),
        ("%spark connect --bundle nope", "no configuration bundle 'nope'"),
        ("%spark connect --bundle yarn-only", "is not for cluster 'local'"),
        ("%spark connect --conf notanoption", "a Spark option is key=value"),
        ("%spark connect --cluster dead", "cannot reach the Spark master of dead"),
        ("%spark connect --cluster connect --conf spark.x={NOT_SET_ANYWHERE}", "$NOT_SET_ANYWHERE is not set"),
    ],
)
def test_bad_input_gives_a_clear_error_and_the_kernel_stays_usable(spark_server, line, words):
    kernel = spark_server.kernel(KERNEL)
    try:
        started = time.monotonic()
        status, out, err = kernel.execute(line, timeout=60)
        assert time.monotonic() - started < 30
        assert words in out + err, (out, err)
        assert status_of(kernel)["state"] == "error"
        assert kernel.run("print(6 * 7)") == "42\n"
    finally:
        kernel.shutdown()


def test_connect_without_arguments_reuses_the_notebooks_saved_choice(spark_server):
    name = f"saved-{uuid.uuid4().hex[:6]}.ipynb"
    notebook = {
        "cells": [],
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "cygnet": {
                "spark": {"cluster": "local", "bundles": ["tuned"], "options": {"spark.app.name": "from-metadata"}}
            }
        },
    }
    (spark_server.root / name).write_text(json.dumps(notebook))
    session = spark_server.post(
        "/api/sessions", json={"path": name, "type": "notebook", "name": name, "kernel": {"name": KERNEL}}
    ).json()
    from tests.support.jupyter import KernelClient

    kernel = KernelClient(spark_server, session["kernel"]["id"])
    try:
        kernel.run("%spark connect", timeout=300)
        out = kernel.run("print(sc.appName, spark.conf.get('spark.sql.shuffle.partitions'))")
        assert out == "from-metadata 7\n"
        state = status_of(kernel)
        assert state["bundles"] == ["tuned"] and state["conf"]["spark.sql.shuffle.partitions"] == "7"
    finally:
        kernel.shutdown()


def test_managed_connect_server_lifecycle(spark_server):
    r = spark_server.post("/cygnet/api/spark/servers", json={"cluster": "mine"})
    assert r.status_code == 202, r.text
    server_id = r.json()["id"]
    assert (
        spark_server.post("/cygnet/api/spark/servers", json={"cluster": "mine"}).json()["id"] == server_id
    )  # one per cluster
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = spark_server.get(f"/cygnet/api/spark/servers/{server_id}").json()
        if state["state"] != "starting":
            break
        time.sleep(1)
    assert state["state"] == "ready", state
    assert state["url"].startswith("sc://localhost:") and "log_tail" in state and "token" not in state
    assert state["ui_url"] == f"/cygnet/spark-ui/{state['ui_port']}/", state  # through the server
    ui = spark_server.get(state["ui_url"])
    assert ui.status_code == 200 and "Spark" in ui.text, ui.status_code
    # Only through the server: the UI's own port wants the session's signature, the server its token.
    assert requests.get(f"http://127.0.0.1:{state['ui_port']}/", timeout=30).status_code == 403
    token_file = spark_server.data_dir / "spark" / "servers" / f"{server_id}.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    from pyspark.sql.connect.session import SparkSession

    from cygnet.spark.connect_auth import channel

    stranger = SparkSession.builder.channelBuilder(channel(state["url"], "not-the-token")).create()
    try:
        with pytest.raises(Exception, match="UNAUTHENTICATED|Invalid authentication token"):
            stranger.range(1).collect()
    finally:
        stranger.client.close()
    # The server keeps a spare session that ran a first job; the next kernel takes it, and the
    # Cygnet server warms another a few seconds later. The REST answer does not show it.
    record = spark_server.data_dir / "spark" / "servers" / f"{server_id}.json"
    spare = json.loads(record.read_text())["spare_session"]
    assert spare and "spare_session" not in state
    kernel = spark_server.kernel(KERNEL)
    try:
        kernel.run("%spark connect --cluster mine", timeout=120)
        assert kernel.run("print(spark.range(10).count(), spark.client._session_id)", timeout=120) == f"10 {spare}\n"
        wait_for(
            lambda: json.loads(record.read_text()).get("spare_session") not in (None, spare), "a new spare", timeout=120
        )
        kernel.run("%spark disconnect")
    finally:
        kernel.shutdown()
    assert spark_server.delete(f"/cygnet/api/spark/servers/{server_id}").status_code == 204
    assert spark_server.get(f"/cygnet/api/spark/servers/{server_id}").status_code == 404
    bad = spark_server.post("/cygnet/api/spark/servers", json={"cluster": "local"})
    assert bad.status_code == 400 and "not connect-managed" in bad.json()["message"]
    unknown = spark_server.post("/cygnet/api/spark/servers", json={"cluster": "mine", "view": "nope/x"})
    assert unknown.status_code == 404 and "no view nope/x" in unknown.json()["message"]


def test_a_managed_server_runs_the_views_python_in_the_workspace_and_releases_dead_kernels(spark_server):
    """Apache Spark's quickstart on connect-managed failed on pandas UDFs (the server's Python
    workers were not the view's), relative paths (not in the workspace) and getOrCreate() (no
    SPARK_REMOTE); and a killed kernel's session stayed on the server."""
    kernel = spark_server.kernel(KERNEL)
    out = kernel.run("%spark connect --cluster mine", timeout=300)
    assert "connected to mine" in out, out  # no server ran: the kernel started one for its view
    result = kernel.run(
        "from pyspark.sql import SparkSession\n"
        "df = spark.range(4).mapInPandas(lambda it: (b.assign(id=b.id * 2) for b in it), 'id long')\n"
        "print(sorted(r.id for r in df.collect()))\n"
        "spark.range(3).write.mode('overwrite').csv('managed-out.csv')\n"
        "print(SparkSession.builder.getOrCreate().range(2).count())\n"
        "import os; print(os.getpid())",
        timeout=300,
    )
    lines = result.split()
    assert lines[:5] == ["[0,", "2,", "4,", "6]", "2"], result
    assert (spark_server.root / "managed-out.csv").is_dir()  # relative to the workspace
    servers = [s for s in spark_server.get("/cygnet/api/spark/servers").json() if s["cluster"] == "mine"]
    assert [s["view"] for s in servers] == [f"sparktest/{PLATFORM}"], servers
    owners = list((spark_server.data_dir / "spark" / "servers" / "owners").glob("*.lock"))
    assert [p.stem for p in owners] == [servers[0]["owner"]], "the kernel's server is its Cygnet server's"
    leases = list((spark_server.data_dir / "spark" / "servers" / f"{servers[0]['id']}.sessions").glob("*.json"))
    held = json.loads(leases[0].read_text())
    assert held["pid"] == int(lines[5])
    os.kill(held["pid"], 9)  # the kernel dies without a word
    deadline = time.monotonic() + 60
    while leases[0].exists():
        assert time.monotonic() < deadline, "the dead kernel's session was not released within 60 s"
        time.sleep(1)
    assert f"released the session of kernel {held['pid']} on mine" in spark_server.log()
    from pyspark.sql.connect.session import SparkSession

    from cygnet.spark.connect_auth import channel

    url = f"{servers[0]['url']}/;session_id={held['session_id']};user_id={held['user_id']}"
    token = (spark_server.data_dir / "spark" / "servers" / f"{servers[0]['id']}.token").read_text()
    again = SparkSession.builder.channelBuilder(channel(url, token)).create()  # the released session, again
    try:
        with pytest.raises(Exception, match="SESSION_CLOSED"):
            again.range(1).collect()
    finally:
        # Closed now: pyspark's exit handler would otherwise call the stopped server, retrying for
        # many minutes before pytest may exit.
        again.client.close()
    spark_server.delete(f"/cygnet/api/spark/servers/{servers[0]['id']}")


def test_executors_read_root_files_into_a_dataframe(spark_server, tmp_path):
    from tests.support.xrootd import XRootDServer

    eos = XRootDServer(tmp_path).start()
    try:
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        for run in range(3):
            buffer = io.BytesIO()
            pq.write_table(pa.table({"run": [run] * 4, "pt": [10.0 * run + i for i in range(4)]}), buffer)
            eos.put(f"/eos/data/run{run}/events.parquet", buffer.getvalue())
        eos.put("/eos/data/run9/other.txt", b"not parquet")
        kernel = spark_server.kernel(KERNEL)
        try:
            kernel.run("%spark connect --cluster local", timeout=300)
            out = kernel.run(
                "from cygnet.storage.spark_read import read_files\n"
                f"df = read_files(spark, '{eos.url}//eos/data/run*/events.parquet', 'parquet')\n"
                "runs = sorted(r.run for r in df.select('run').distinct().collect())\n"
                "print(df.count(), runs, df.agg({'pt': 'sum'}).first()[0])\n"
                f"raw = read_files(spark, ['{eos.url}//eos/data/run9/other.txt'])\n"
                "print(raw.first().content, raw.first().length)",
                timeout=300,
            )
            assert out.splitlines() == ["12 [0, 1, 2] 138.0", "b'not parquet' 11"]
            _, out, err = kernel.execute(f"read_files(spark, '{eos.url}//eos/nothing/*.parquet', 'parquet')")
            assert "no files match" in err
        finally:
            kernel.shutdown()
    finally:
        eos.close()


def interrupt_long_job(server, kernel, after=8.0):
    """Run a job that would take minutes, press stop (interrupt the kernel) after `after`
    seconds; returns (status, output, error, seconds from the interrupt to the cell's end)."""
    import threading

    result = {}

    def run():
        result["reply"] = kernel.execute(
            "spark.range(0, 10**13, numPartitions=64).selectExpr('sum(sqrt(id))').collect()", timeout=300
        )
        result["ended"] = time.monotonic()

    cell = threading.Thread(target=run)
    cell.start()
    time.sleep(after)
    interrupted = time.monotonic()
    assert server.post(f"/api/kernels/{kernel.id}/interrupt").status_code == 204
    cell.join(120)
    assert not cell.is_alive(), "the interrupted cell did not end within 120 s"
    status, out, err = result["reply"]
    return status, out, err, result["ended"] - interrupted


@pytest.mark.parametrize("cluster", ["local", "standalone", "connect"])
def test_the_stop_button_cancels_the_cells_spark_jobs_and_the_session_stays(spark_server, cluster):
    kernel = spark_server.kernel(KERNEL)
    try:
        kernel.run(f"%spark connect --cluster {cluster}", timeout=300)
        status, out, err, seconds = interrupt_long_job(spark_server, kernel)
        assert status == "error" and "Spark jobs cancelled" in err + out, (status, out, err)
        assert seconds < 10, f"the cell took {seconds:.1f} s to end after the interrupt"
        started = time.monotonic()
        assert kernel.run("print(spark.range(5).count())", timeout=60).strip() == "5"
        assert time.monotonic() - started < 20, "the next cell waited behind the cancelled job"
        if cluster != "connect":
            # No job left running. Spark's status tracker learns of a job's end from its listener
            # bus, a moment after the job ends: the kernel waits for it (30 s at most).
            left = kernel.run(
                "import time\n"
                "deadline = time.monotonic() + 30\n"
                "while sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:\n"
                "    time.sleep(0.1)\n"
                "print(len(sc.statusTracker().getActiveJobsIds()))",
                timeout=60,
            )
            assert left.strip() == "0", left
        assert status_of(kernel)["state"] == "connected"
    finally:
        kernel.run("%spark disconnect")
        kernel.shutdown()


@pytest.mark.parametrize("cluster", ["local", "connect"])
def test_the_state_follows_a_session_the_notebook_stopped_itself(spark_server, cluster):
    kernel = spark_server.kernel(KERNEL)
    try:
        kernel.run(f"%spark connect --cluster {cluster}", timeout=300)
        if cluster == "connect":  # code that builds its own session joins the same one
            same = kernel.run(
                "import os\nfrom pyspark.sql import SparkSession\n"
                "print(SparkSession.builder.getOrCreate().range(3).count(), bool(os.environ['SPARK_REMOTE']))"
            )
            assert same.split() == ["3", "True"], same
        kernel.run("spark.stop()")
        assert status_of(kernel)["state"] == "disconnected"
        kernel.run("%spark status")  # no AttributeError
        kernel.run(f"%spark connect --cluster {cluster}", timeout=300)  # not "already connected"
        assert kernel.run("print(spark.range(4).count())").strip() == "4"
    finally:
        kernel.run("%spark disconnect")
        kernel.shutdown()


def test_the_spark_ui_is_reached_through_the_server_behind_its_login(spark_server):
    kernel = spark_server.kernel(KERNEL)
    try:
        kernel.run("%spark connect --cluster local", timeout=300)
        ui = status_of(kernel)["ui_url"]
        assert ui.startswith("/cygnet/spark-ui/"), ui
        page = spark_server.get(ui)
        assert page.status_code == 200 and "Spark Jobs" in page.text, (page.status_code, page.text[:300])
        assert f'href="{ui.rstrip("/")}/jobs/' in page.text or f"{ui.rstrip('/')}/" in page.text, "links stay inside"
        anonymous = requests.get(spark_server.url + ui, allow_redirects=False, timeout=30)
        assert anonymous.status_code in (302, 403), "the UI needs the user's login"
        assert spark_server.get("/cygnet/spark-ui/22/").status_code == 404, "only this server's Spark ports"
        # The driver's own port answers only requests the route signed with the session's key, and
        # its RPC wants spark.authenticate's secret; none of it is on a command line.
        port = ui.strip("/").rsplit("/", 1)[1]
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/applications", timeout=30).status_code == 403
        conf = kernel.run("print(spark.conf.get('spark.authenticate'), spark.conf.get('spark.ui.filters'))").split()
        assert conf == ["true", "org.apache.spark.ui.JWSFilter"], conf
        key = (spark_server.data_dir / "session.key").read_text()
        assert stat.S_IMODE((spark_server.data_dir / "session.key").stat().st_mode) == 0o600
        assert not [pid for pid, line in command_lines() if key in line], "the session key is on a command line"
    finally:
        kernel.run("%spark disconnect")
        kernel.shutdown()


def test_a_sessions_spark_scratch_is_private_to_its_account(spark_server):
    """Shuffle, spill and the JVM's temporary files land in the session's 0700 scratch, written
    with umask 077, not in a /tmp every account can walk."""
    kernel = spark_server.kernel(KERNEL)
    try:
        kernel.run("%spark connect --cluster local", timeout=300)
        out = kernel.run(
            "import os\n"
            "m = os.umask(0); os.umask(m)\n"
            "spark.range(2000).selectExpr('id % 7 as k').groupBy('k').count().collect()\n"
            "print(oct(m), os.environ['TMPDIR'], os.environ['SPARK_LOCAL_DIRS'], "
            "spark.sparkContext._jvm.System.getProperty('java.io.tmpdir'))",
            timeout=120,
        ).split()
        assert out[0] == "0o77", out
        scratch = Path(out[1]).parent
        assert scratch.parent == spark_server.data_dir / "scratch" and out[3] == out[1], out
        assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
        shuffle = list(Path(out[2]).glob("blockmgr-*/*/shuffle_*"))
        assert shuffle, "the shuffle files are in the session's scratch"
        loose = [p for p in scratch.rglob("*") if stat.S_IMODE(p.lstat().st_mode) & 0o077 and not p.is_symlink()]
        assert not loose, f"files others could read: {loose[:5]}"
    finally:
        kernel.run("%spark disconnect")
        kernel.shutdown()


def command_lines():
    """(pid, command line) of every process on the machine, as any account may read them."""
    lines = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    lines.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                continue
    return lines


def test_a_connect_client_and_server_of_different_sparks_are_named():
    from cygnet.core.errors import Unavailable
    from cygnet.spark.checks import check_connect_versions

    check_connect_versions("4.3.0", "4.3.1", "sc://x:15002")  # same minor: fine
    with pytest.raises(Unavailable, match=r"runs Spark 3\.5\.2, but this kernel's view has the Spark 4\.3\.0 client"):
        check_connect_versions("4.3.0", "3.5.2", "sc://x:15002")


@pytest.mark.parametrize(
    "release, spark, problem", [("11.0.2", "4.0.0", "needs Java 17"), ("1.8.0_292", "3.5.1", None)]
)
def test_a_java_too_old_for_this_spark_is_named_without_starting_a_jvm(tmp_path, monkeypatch, release, spark, problem):
    from cygnet.spark.java import check_java

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "release").write_text(f'JAVA_VERSION="{release}"\n')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    if problem:
        with pytest.raises(Unavailable, match=f"{problem} or newer, and the Java here is 11"):
            check_java(spark)
    else:
        check_java(spark)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(Unavailable, match="Java is not installed"):
        check_java(spark)


def test_an_idle_managed_server_stops_itself_and_a_used_one_does_not(tmp_path):
    """The sweep on real processes standing in for two servers: one with a live kernel's lease,
    one with none for longer than the idle time."""
    from cygnet.spark.managed import ManagedServers

    servers = ManagedServers(tmp_path, lambda: parse_catalogue({}))
    processes = {}
    for name in ("idle", "used"):
        proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
        processes[name] = proc
        state = {"id": name, "cluster": "mine", "view": "v", "state": "ready", "pid": proc.pid}
        state.update(url="sc://127.0.0.1:1", started=time.time() - 100, log=str(tmp_path / f"{name}.log"))
        (tmp_path / f"{name}.json").write_text(json.dumps(state))
    (tmp_path / "used.sessions").mkdir()
    (tmp_path / "used.sessions" / f"{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "session_id": "x"}))
    done = servers.sweep(idle_timeout=10)
    assert done == ["stopped the idle Spark Connect server of mine"]
    assert processes["idle"].wait(10) is not None and processes["used"].poll() is None
    assert [s["id"] for s in servers.list()] == ["used"]
    assert servers.sweep(idle_timeout=0) == []  # 0: never stop for idleness
    servers.stop("used")
    assert processes["used"].wait(10) is not None


def test_each_cygnet_server_stops_only_its_own_managed_servers(tmp_path):
    """One user's two sessions share the managed servers' folder (named servers, a second
    `cygnet up` on one data dir): the one that stops takes its own managed server with it and
    leaves the other's running; once the other is gone too, its server is an orphan anyone stops.
    Real processes stand in for the Connect servers."""
    from cygnet.spark.managed import ManagedServers

    first = ManagedServers(tmp_path, lambda: parse_catalogue({}))
    second = ManagedServers(tmp_path, lambda: parse_catalogue({}))
    processes = {}
    for name, owner in (("firsts", first.owner), ("seconds", second.owner), ("older", "")):
        proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
        processes[name] = proc
        state = {"id": name, "owner": owner, "cluster": "mine", "view": "v", "state": "ready", "pid": proc.pid}
        state.update(url="sc://127.0.0.1:1", started=time.time() - 100, log=str(tmp_path / f"{name}.log"))
        (tmp_path / f"{name}.json").write_text(json.dumps(state))
    second.stop_all()  # the second session stops
    second.release()
    assert processes["seconds"].wait(10) is not None and processes["older"].wait(10) is not None
    assert processes["firsts"].poll() is None, "the first session's server runs on"
    assert [s["id"] for s in first.list()] == ["firsts"]
    assert second.sweep(idle_timeout=10) == [], "the other session's server is not swept either"
    first.release()  # the first is gone (killed: its lock went with it)
    third = ManagedServers(tmp_path, lambda: parse_catalogue({}))
    assert third.sweep(idle_timeout=10) == ["stopped the idle Spark Connect server of mine"]
    assert processes["firsts"].wait(10) is not None and third.list() == []
