"""Batch runs through the real server: papermill on a view's kernel, as a detached local process
and as a job of a real Slurm (slurmctld + slurmd + munged on 127.0.0.1). HTCondor and
Kubernetes cannot run here: their submit description and Job manifest are checked as generated."""

import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from cygnet.runs.backends import HTCondorBackend, Job, KubernetesBackend, SlurmBackend
from tests.support.cli import PLATFORM, cygnet
from tests.support.jupyter import JupyterServer, free_port
from tests.support.slurm import Slurm, available
from tests.support.warm import sockets, spare_pid, wait_for_warm_job

pytestmark = pytest.mark.skipif(not available(), reason="Slurm and munge are not installed (make test installs them)")


def notebook(path, *cells, parameters=None, kernel="python3"):
    nb = nbformat.v4.new_notebook()
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    cluster = Slurm(tmp_path_factory.mktemp("slurm") / "cluster").start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def runs_setup(tmp_path_factory, lcg_root, slurm, spark_view):
    root, _ = lcg_root
    workspace = tmp_path_factory.mktemp("runs-workspace")
    notebook(
        workspace / "fit.ipynb",
        "import os\nprint('result', year * scale, os.environ['CYGNET_TEST_MARKER'])",
        "answer = year + 1",
        parameters="year = 2020\nscale = 1.0",
    )
    notebook(workspace / "broken.ipynb", "x = 1", "raise ValueError('the fit did not converge')", "y = 2")
    notebook(workspace / "slow.ipynb", "import time\ntime.sleep(float(seconds))", parameters="seconds = 60")
    notebook(
        workspace / "check.ipynb",
        "print('sum', sum(range(10)))",
        "import os\nprint('built by', os.environ['CYGNET_TEST_MARKER'])",
        "print('energy', 1.0 + (1e-9 if 'second' in os.environ['CYGNET_TEST_MARKER'] else 0.0))",
    )
    notebook(workspace / "spark.ipynb", "print('sum', spark.range(10).selectExpr('sum(id)').collect()[0][0])")
    env = {
        **slurm.env,
        "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("runs-data")),
        "CYGNET_VIEWS_PATH": f"{root}:{spark_view}",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    args = [f"--Cygnet.default_view=LCG_marker/{PLATFORM}"]
    return env, args, workspace


@pytest.fixture(scope="module")
def runs(runs_setup):
    env, args, workspace = runs_setup
    server = JupyterServer(env=env, root=workspace, args=args)
    server.start()
    yield server
    server.stop()


def submit(server, **body):
    r = server.post("/cygnet/api/runs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def wait(server, run_id, until=("succeeded", "failed", "cancelled"), timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.get(f"/cygnet/api/runs/{run_id}").json()
        if run["state"] in until:
            return run
        time.sleep(0.3)
    raise TimeoutError(f"run {run_id} still {run['state']}: {run}")


def outputs(workspace, run):
    nb = nbformat.read(str(workspace / run["output"]), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("backend", ["local", "slurm"])
def test_a_notebook_runs_with_parameters_in_its_view(runs, runs_setup, backend):
    workspace = runs_setup[2]
    run = submit(runs, notebook="fit.ipynb", parameters={"year": 2024, "scale": 0.5}, backend=backend)
    assert run["state"] == "queued" and run["job_id"] and run["backend"] == backend
    assert run["view"] == f"LCG_marker/{PLATFORM}"
    done = wait(runs, run["id"])
    assert done["state"] == "succeeded", done
    assert done["cells_done"] == done["cells_total"] == 4  # parameters, injected parameters, 2 cells
    assert "result 1012.0 marker-LCG_marker" in outputs(workspace, done), "the view's environment"
    assert (workspace / done["html"]).read_text().startswith("<!DOCTYPE html>")
    assert run["id"] in [r["id"] for r in runs.get("/cygnet/api/runs").json()]


def test_results_never_overwrite_anything(runs, runs_setup):
    workspace = runs_setup[2]
    first = submit(runs, notebook="fit.ipynb", out="")
    second = submit(runs, notebook="fit.ipynb")
    assert first["output"] != second["output"] and first["html"] != second["html"]
    for run in (first, second):
        assert wait(runs, run["id"])["state"] == "succeeded"
    (workspace / "results").mkdir()
    run = submit(runs, notebook="fit.ipynb", out="results")
    assert run["output"].startswith("results/fit-run-")
    wait(runs, run["id"])
    assert (workspace / "fit.ipynb").exists(), "the input is never touched"


def test_a_failing_notebook_fails_with_the_cells_error_and_keeps_its_partial_output(runs, runs_setup):
    workspace = runs_setup[2]
    run = wait(runs, submit(runs, notebook="broken.ipynb", backend="slurm")["id"])
    assert run["state"] == "failed" and "ValueError: the fit did not converge" in run["error"], run
    assert run["cells_done"] == 2 and run["cells_total"] == 3
    nb = json.loads((workspace / run["output"]).read_text())
    assert any(o.get("ename") == "ValueError" for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("backend", ["local", "slurm"])
def test_cancel_stops_the_job_and_a_finished_run_cannot_be_cancelled(runs, backend):
    run = submit(runs, notebook="slow.ipynb", backend=backend)
    wait(runs, run["id"], until=("running",))
    r = runs.delete(f"/cygnet/api/runs/{run['id']}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    r = runs.delete(f"/cygnet/api/runs/{run['id']}")
    assert r.status_code == 400 and "already ended (cancelled)" in r.json()["message"]
    if backend == "local":
        from cygnet.core.proc import alive

        deadline = time.monotonic() + 10
        while alive(int(run["job_id"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(int(run["job_id"])), "the job and its kernel are gone"


def test_a_local_run_after_another_is_handed_to_the_warm_job_it_left(runs, runs_setup):
    env, _, workspace = runs_setup
    data = Path(env["CYGNET_DATA_DIR"])
    before = {spare_pid(path) for path in sockets(data)}  # a spare of another environment (the CLI's) may wait
    first = submit(runs, notebook="fit.ipynb", parameters={"year": 2001}, backend="local")
    assert wait(runs, first["id"])["state"] == "succeeded"
    spare = wait_for_warm_job(data, other_than=before)
    second = submit(runs, notebook="fit.ipynb", parameters={"year": 2002}, backend="local")
    assert second["job_id"] == str(spare)
    second = wait(runs, second["id"])
    assert second["state"] == "succeeded" and "result 2002.0" in outputs(workspace, second), second


def test_a_run_submitted_before_a_server_restart_is_followed_after_it(runs_setup):
    env, args, workspace = runs_setup
    with JupyterServer(env=env, root=workspace, args=args) as first:
        run = submit(first, notebook="slow.ipynb", parameters={"seconds": 4})
        wait(first, run["id"], until=("running",))
    with JupyterServer(env=env, root=workspace, args=args) as second:
        assert second.get(f"/cygnet/api/runs/{run['id']}").json()["state"] in ("running", "succeeded")
        assert wait(second, run["id"])["state"] == "succeeded"


def test_a_run_on_a_spark_cluster_connects_first(runs, runs_setup):
    run = submit(runs, notebook="spark.ipynb", view=f"sparktest/{PLATFORM}", cluster="local")
    done = wait(runs, run["id"], timeout=300)
    assert done["state"] == "succeeded", done
    assert "sum 45" in outputs(runs_setup[2], done)


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"notebook": "nothere.ipynb"}, 404, "no notebook nothere.ipynb"),
        ({"notebook": "../outside.ipynb"}, 400, "inside"),
        ({"notebook": "fit.ipynb", "parameters": {"yaer": 1}}, 400, "no parameter yaer (its parameters: year, scale)"),
        ({"notebook": "broken.ipynb", "parameters": {"x": 1}}, 400, "no cell tagged 'parameters'"),
        ({"notebook": "fit.ipynb", "parameters": {"1bad": 1}}, 400, "not a parameter name"),
        ({"notebook": "fit.ipynb", "view": "LCG_nothere/x"}, 404, "no view LCG_nothere/x"),
        ({"notebook": "fit.ipynb", "backend": "pbs"}, 400, "unknown backend 'pbs'"),
        ({"notebook": "fit.ipynb", "cluster": "nope"}, 404, "no Spark or Dask cluster 'nope'"),
        ({"notebook": "fit.ipynb", "backend": "htcondor"}, 503, "HTCondor schedd"),
        ({"notebook": "fit.ipynb", "extra": 1}, 400, "extra"),
        ({"notebook": 12}, 400, "notebook must be a string"),
        ({"notebook": "fit.ipynb", "parameters": [1]}, 400, "parameters is an object"),
        ({}, 400, "notebook"),
    ],
)
def test_bad_requests_are_answered_clearly(runs, body, status, words):
    r = runs.post("/cygnet/api/runs", json=body)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_the_dialog_gets_the_notebooks_parameters_and_the_choices(runs):
    form = runs.get("/cygnet/api/runs/form", params={"notebook": "fit.ipynb"}).json()
    assert [(p["name"], p["default"]) for p in form["parameters"]] == [("year", "2020"), ("scale", "1.0")]
    assert form["default_view"] == f"LCG_marker/{PLATFORM}" and f"sparktest/{PLATFORM}" in form["views"]
    assert "local" in form["clusters"] and form["backends"][:2] == ["local", "slurm"]
    assert runs.get("/cygnet/api/runs/form", params={"notebook": "nope.ipynb"}).status_code == 404
    assert runs.get("/cygnet/api/runs/form").status_code == 400


def test_unknown_and_other_users_runs_are_not_found(runs):
    assert runs.get("/cygnet/api/runs/0123456789ab").status_code == 404
    assert runs.delete("/cygnet/api/runs/0123456789ab").status_code == 404


def test_a_scheduler_that_is_down_is_named_in_bounded_time(runs_setup, tmp_path):
    env, args, workspace = runs_setup
    dead = tmp_path / "slurm.conf"
    conf = open(env["SLURM_CONF"]).read()
    conf = re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={free_port()}", conf)  # nothing listens there
    dead.write_text(conf.replace("MessageTimeout=10", "MessageTimeout=3"))
    with JupyterServer(env={**env, "SLURM_CONF": str(dead)}, root=workspace, args=args) as server:
        started = time.monotonic()
        r = server.post("/cygnet/api/runs", json={"notebook": "fit.ipynb", "backend": "slurm"})
        assert r.status_code == 503 and "submitting to Slurm" in r.json()["message"], r.text
        assert time.monotonic() - started < 60


def test_cli_run_waits_and_prints_the_result(runs_setup):
    env, _, workspace = runs_setup
    result = cygnet(
        "run", "fit.ipynb", "-p", "year=2000", "-p", "scale=2", "--wait", "--workspace", str(workspace),
        f"--Cygnet.default_view=LCG_marker/{PLATFORM}", env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "state: succeeded" in result.stdout and "cells: 4/4" in result.stdout
    bad = cygnet("run", "fit.ipynb", "-p", "year", "--workspace", str(workspace), env=env)
    assert bad.returncode != 0 and "NAME=VALUE" in bad.stderr


def test_a_notebook_checked_on_two_views_reports_what_changed_cell_by_cell(runs, runs_setup):
    """Two real views (LCG_marker, LCG_second) whose environments differ in one printed value and
    in the ninth decimal of another: the report says same, differs and close, cell by cell."""
    env, _, workspace = runs_setup
    old, new = f"LCG_marker/{PLATFORM}", f"LCG_second/{PLATFORM}"
    r = runs.post("/cygnet/api/runs/check-views", json={"notebook": "check.ipynb", "views": [old, new]})
    assert r.status_code == 201, r.text
    pair = [wait(runs, run["id"]) for run in r.json()["runs"]]
    assert [run["view"] for run in pair] == [old, new] and {run["state"] for run in pair} == {"succeeded"}

    query = f"a={pair[0]['id']}&b={pair[1]['id']}"
    strict = runs.get(f"/cygnet/api/runs/compare?{query}").json()
    assert [c["verdict"] for c in strict["cells"]] == ["same", "differs", "differs"]
    assert "marker-LCG_marker" in strict["cells"][1]["detail"] and "marker-LCG_second" in strict["cells"][1]["detail"]
    report = runs.get(f"/cygnet/api/runs/compare?{query}&rel_tol=1e-6").json()
    assert [c["verdict"] for c in report["cells"]] == ["same", "differs", "close"], report["cells"]
    assert (report["verdict"], report["a"]["view"], report["b"]["view"]) == ("differs", old, new)
    assert report["a"]["duration_seconds"] > 0 and report["tolerance"] == {"rel_tol": 1e-6, "abs_tol": 0.0}
    assert report["diff_url"].startswith("/nbdime/difftool?base=")
    diff = runs.get(report["diff_url"])
    assert diff.status_code == 200 and "nbdime" in diff.text, "nbdime's side-by-side diff of the two results"
    assert runs.get(f"/cygnet/api/runs/compare?a={pair[0]['id']}").status_code == 400
    assert runs.get(f"/cygnet/api/runs/compare?{query}&rel_tol=-1").json()["message"].startswith("rel_tol must")
    bad = runs.post("/cygnet/api/runs/check-views", json={"notebook": "check.ipynb", "views": [old, old]})
    assert bad.status_code == 400 and "the two views are the same" in bad.json()["message"]

    # The command line: run on both, wait, report; exit 1 because a cell differs.
    result = cygnet(
        "run", "check.ipynb", "--compare-views", old, new, "--rel-tol", "1e-6", "--workspace", str(workspace),
        f"--Cygnet.default_view={old}", env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "cell 1 [differs]" in result.stdout and "cell 2 [close]" in result.stdout, result.stdout
    assert "verdict: differs (1 close, 1 differs, 1 same)" in result.stdout


# --- in process: what the schedulers are given -------------------------------------------------
JOB = Job(run_id="abc123def456", run_dir="/data/runs/abc123def456", workdir="/home/alice/cygnet",
          env={"CYGNET_VIEW": "LCG_106/x", "QUOTE": "it's \"q\""}, python="/opt/cygnet/bin/python",
          cpus=2, memory_mb=4096, time_limit_minutes=30)  # fmt: skip


def test_the_slurm_script_runs_the_executor_with_the_resources():
    script = SlurmBackend().script(JOB)
    assert "#SBATCH --cpus-per-task=2" in script and "#SBATCH --mem=4096M" in script and "#SBATCH --time=30" in script
    assert script.rstrip().endswith("exec /opt/cygnet/bin/python -m cygnet.runs.execute /data/runs/abc123def456")
    assert "CYGNET_VIEW" not in script, "the environment is exported by sbatch, not written out"


def test_the_htcondor_description_and_the_kubernetes_job_carry_the_same_run():
    description = HTCondorBackend().description(JOB)
    assert "executable = /opt/cygnet/bin/python" in description
    assert "arguments = \"'-m' 'cygnet.runs.execute' '/data/runs/abc123def456'\"" in description
    assert "request_cpus = 2" in description and "request_memory = 4096" in description
    assert "QUOTE='it''s \"\"q\"\"'" in description and description.rstrip().endswith("queue")
    manifest = KubernetesBackend(image="site/session:1", namespace="batch").manifest(JOB)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert manifest["kind"] == "Job" and manifest["metadata"]["namespace"] == "batch"
    assert container["command"] == JOB.command and container["image"] == "site/session:1"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4096Mi"}
    assert manifest["spec"]["activeDeadlineSeconds"] == 1800 and manifest["spec"]["backoffLimit"] == 0


def test_a_notebook_read_during_jupyters_save_is_read_again_and_a_broken_one_fails_at_once(tmp_path):
    """Jupyter saves a notebook in place after a backup copy (`.~<name>`): a run's form or submit
    that meets the save in progress reads again instead of calling the notebook unreadable (a
    browser test met this); a broken notebook with no save in progress is bad input at once."""
    import threading

    from cygnet.runs.service import read_settled

    notebook, backup = tmp_path / "scan.ipynb", tmp_path / ".~scan.ipynb"
    backup.write_text('{"cells": []}')
    notebook.write_text("")  # truncated: the save has begun
    first_failure = threading.Event()

    def finish_the_save():  # at once, as the reader sees it: the test's reads never meet it half-done
        first_failure.wait(30)
        (tmp_path / "whole").write_text('{"cells": [1]}')
        (tmp_path / "whole").replace(notebook)
        backup.unlink()

    saver = threading.Thread(target=finish_the_save)
    saver.start()

    def read(path):
        try:
            return json.loads(path.read_text())
        except ValueError:
            first_failure.set()
            raise

    assert read_settled(notebook, read) == {"cells": [1]}
    saver.join()
    notebook.write_text("{not json")
    reads = []
    with pytest.raises(ValueError):
        read_settled(notebook, lambda path: reads.append(path) or json.loads(path.read_text()))
    assert len(reads) == 2, "no save in progress: read once more (a save may have just ended), then refused"


@pytest.mark.parametrize(
    "cell",
    [
        "n = 1000",
        "a = 1\nb: int = 2  # the b\n# a comment\ne = [1,\n     2]\nx = 'text'\n",
        "import math\nalpha = math.pi\n\nbeta = 's'",
        "%matplotlib inline\nn = 3",  # a magic: ast cannot read it, papermill does
        "",
    ],
)
def test_a_python_notebooks_parameters_are_read_as_papermill_reads_them(tmp_path, cell):
    """`cygnet run -p` checks names against the parameters cell without importing papermill (its
    engines cost 0.5 s of the command): the names agree with papermill's own inspection."""
    import papermill

    from cygnet.runs.service import parameter_names

    path = tmp_path / "p.ipynb"
    kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell(cell)]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    assert parameter_names(path) == list(papermill.inspect_notebook(str(path)))


def test_a_run_is_seen_ended_from_its_last_status_while_its_process_still_exits(tmp_path, monkeypatch):
    """The job writes its end (succeeded or failed) last; a follower sees it then, not when the
    process has also torn down its interpreter (0.2 s of every `cygnet run --wait`)."""
    import subprocess
    import sys

    from cygnet.runs.service import Runs
    from cygnet.runs.settings import load
    from cygnet.runs.store import Run

    monkeypatch.setenv("CYGNET_DATA_DIR", str(tmp_path / "data"))
    runs = Runs(load([]), str(tmp_path))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "status.json").write_text(json.dumps({"state": "succeeded", "started": 1.0, "ended": 2.0}))
    still_exiting = subprocess.Popen(
        [sys.executable, "-c", f"import sys; input(); print({str(run_dir)!r})"], stdin=subprocess.PIPE
    )
    try:
        run = Run(
            id="r1",
            owner=runs.owner,
            notebook="n.ipynb",
            parameters={},
            view="",
            kernel="",
            backend="local",
            output="n-run.ipynb",
            html="n-run.html",
            run_dir=str(run_dir),
            job_id=str(still_exiting.pid),
            state="running",
        )
        assert runs.backend("local").state(run.job_id, run.run_dir) == "running"
        seen = runs._refresh(run)
        assert (seen.state, seen.ended) == ("succeeded", 2.0)
    finally:
        still_exiting.communicate(b"\n")
