"""The compute layer (cygnet.compute) in process: engines register their kinds of cluster, the
catalogue knows none of its own, and each kernel-side package brings the packages it needs.
No server, kernel or JVM."""

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from cygnet.compute import kinds
from cygnet.compute.catalogue import Cluster, kernel_copy, load_catalogue, parse_catalogue
from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput, NotFound
from cygnet.kernels.isolation import kernel_side_path, with_requirements


def test_spark_and_dask_register_their_kinds_and_the_catalogue_has_none_of_its_own():
    engines = kinds.engines()
    assert list(engines)[:2] == ["spark", "dask"]
    assert {k.name for k in engines["spark"].kinds} == {
        "local",
        "standalone",
        "connect",
        "connect-managed",
        "yarn",
        "k8s",
    }
    assert {k.name for k in engines["dask"].kinds} == {"dask-local", "dask-gateway"}
    assert [(c.name, c.engine) for c in load_catalogue().clusters] == [("local", "spark"), ("dask-local", "dask")]


@dataclass(frozen=True)
class PoolCluster(Cluster):
    gpus: int = 0
    ENGINE = "pool"


def _parse_pool(c, name, source):
    if not isinstance(c.get("gpus", 0), int):
        raise BadInput(f"{source}: cluster {name}: gpus is a whole number")
    return PoolCluster(name=name, kind=c["kind"], gpus=c.get("gpus", 0))


@pytest.fixture
def third_engine():
    engine = kinds.Engine(
        name="pool",
        title="GPU pool",
        connect_hint="%pool connect",
        kinds=(kinds.ClusterKind("gpu-pool", _parse_pool, ("gpus",)),),
    )
    kinds.register(engine)
    yield engine
    kinds.engines().pop("pool")


def test_a_third_engine_brings_its_kinds_without_touching_the_catalogue(third_engine):
    site = parse_catalogue(
        {"clusters": [{"name": "gpus", "kind": "gpu-pool", "gpus": 4}, {"name": "l", "kind": "local"}]}
    )
    assert site.names("pool") == ["gpus"] and site.cluster("gpus").to_dict()["gpus"] == 4
    assert site.names() == ["gpus", "l", "dask-local"]  # Dask is always offered; Spark is not added
    with pytest.raises(BadInput, match="'gpus' is a GPU pool cluster.*%pool connect"):
        site.cluster("gpus", engine="spark")
    with pytest.raises(NotFound, match="no GPU pool cluster 'x'"):
        site.cluster("x", engine="pool")
    with pytest.raises(BadInput, match="gpus is not a field of Spark clusters"):
        parse_catalogue({"clusters": [{"name": "s", "kind": "local", "gpus": 1}]})
    with pytest.raises(BadInput, match="gpus is a whole number"):
        parse_catalogue({"clusters": [{"name": "g", "kind": "gpu-pool", "gpus": "many"}]})


def test_a_kernel_without_an_engine_still_lists_its_clusters(tmp_path):
    site = tmp_path / "clusters.json"
    site.write_text(json.dumps({"clusters": [{"name": "prod", "kind": "standalone", "master": "spark://h:7077"}]}))
    copy = json.loads(open(kernel_copy(site, tmp_path)).read())
    assert [(c["name"], c["engine"]) for c in copy["clusters"]] == [("prod", "spark"), ("dask-local", "dask")]
    # An engine this process does not have (a kernel given only cygnet.dask) is kept, opaque.
    copy["clusters"][0] = {**copy["clusters"][0], "kind": "ray", "engine": "ray"}
    kept = parse_catalogue(copy)
    assert kept.cluster("prod").engine == "ray" and kept.names("dask") == ["dask-local"]
    with pytest.raises(BadInput, match="kind must be one of"):  # without an engine name it is refused
        parse_catalogue({"clusters": [{"name": "x", "kind": "ray"}]})


def test_dask_brings_the_compute_layer_and_storage_and_works_without_spark(tmp_path):
    assert with_requirements(["cygnet.dask"]) == ["cygnet.dask", "cygnet.core", "cygnet.compute", "cygnet.storage"]
    path = kernel_side_path(["cygnet.dask"], tmp_path)
    assert sorted(p.name for p in (path / "cygnet").iterdir()) == ["compute", "core", "dask", "storage"]
    # Only that path and the standard library (-S: no site-packages): what a view without
    # cygnet.spark gives a kernel. Dask's catalogue still lists both engines' clusters.
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); from cygnet.dask import session; "
        "print(json.dumps([[c.name, c.engine] for c in session.catalogue().clusters]), 'cygnet.spark' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.split() == ['[["dask-local",', '"dask"]]', "False"]


def test_the_old_name_of_the_catalogue_setting_is_still_read(caplog):
    assert Cygnet(spark_clusters="/site/clusters.yaml").clusters == "/site/clusters.yaml"
    assert "deprecated" in caplog.text
    assert Cygnet(clusters="/a.yaml", spark_clusters="/b.yaml").clusters == "/a.yaml"
