"""Warm jobs for local runs (cygnet.runs.warm), through the real `cygnet run` on a test view's
real kernels: a run after another is handed to the spare its predecessor left, with a fresh
kernel in the notebook's folder; a spare that is of no use (its kernel died, another
environment) is passed over; a warm run cancels with its kernel; spares end by themselves."""

import json
import os
import signal
import time

import nbformat
import pytest

from cygnet.core.proc import alive
from cygnet.runs import warm
from tests.support.cli import PLATFORM, cygnet
from tests.support.warm import connected, sockets, spare_pid, stop_warm_jobs, wait_for_warm_job


def notebook(path, *cells, parameters):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell] + [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture
def setup(tmp_path, lcg_root):
    root, _ = lcg_root
    workspace, data = tmp_path / "workspace", tmp_path / "data"
    notebook(
        workspace / "sub" / "where.ipynb",
        "import os\nprint('cwd', os.getcwd())\nprint('n', n)",
        "print('fresh', 'leftover' not in globals())\nleftover = 1",
        "print('tmp', oct(os.stat(os.environ['TMPDIR']).st_mode & 0o777))",
        parameters="n = 0",
    )
    notebook(workspace / "slow.ipynb", "import time\ntime.sleep(float(seconds))", parameters="seconds = 120")
    env = {"CYGNET_DATA_DIR": str(data), "CYGNET_VIEWS_PATH": str(root)}
    yield workspace, data, env
    stop_warm_jobs(data)


def run(setup, name, *args, wait=True, env=None, idle=60):
    workspace, _, base = setup
    result = cygnet(
        "run", name, *args, "--on", "local", "--json", "--workspace", str(workspace),
        f"--Cygnet.default_view=LCG_marker/{PLATFORM}", f"--LocalRunBackend.warm_idle={idle}",
        *(["--wait"] if wait else []), env={**base, **(env or {})}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def outputs(workspace, run):
    nb = nbformat.read(str(workspace / run["output"]), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def wait_for(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.1)
    return value


def kernel_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = [int(c) for c in f.read().split()]
    return next(c for c in children if b"ipykernel" in open(f"/proc/{c}/cmdline", "rb").read())


def test_a_local_run_after_another_is_handed_to_the_spare_it_left_with_a_fresh_kernel(setup):
    workspace, data, _ = setup
    first = run(setup, "sub/where.ipynb", "-p", "n=1")
    assert first["state"] == "succeeded", first
    spare = wait_for_warm_job(data)
    assert (data / "runs" / warm.FOLDER).stat().st_mode & 0o777 == 0o700
    second = run(setup, "sub/where.ipynb", "-p", "n=2")
    assert second["state"] == "succeeded" and second["job_id"] == str(spare), (second, spare)
    text = outputs(workspace, second)
    assert f"cwd {workspace / 'sub'}\n" in text and "n 2\n" in text and "fresh True\n" in text, text
    assert "tmp 0o700" in text  # the spare's own private scratch
    assert (workspace / second["html"]).stat().st_size > 0
    assert second["cells_done"] == second["cells_total"] == 5  # with the injected parameters
    # It left a spare of its own for the next run, and is gone.
    assert wait_for_warm_job(data, other_than={spare}) != spare
    wait_for(lambda: not alive(spare), "the used spare gone")
    third = run(setup, "sub/where.ipynb", "-p", "n=3")
    assert third["state"] == "succeeded" and "fresh True\n" in outputs(workspace, third)


def test_a_spare_whose_kernel_died_or_of_another_environment_is_passed_over(setup):
    workspace, data, _ = setup
    assert run(setup, "sub/where.ipynb")["state"] == "succeeded"
    spare = wait_for_warm_job(data)
    # A run from another environment does not find it; the spare its job leaves retires it.
    other = run(setup, "sub/where.ipynb", env={"ANOTHER_SETTING": "1"})
    assert other["state"] == "succeeded" and other["job_id"] != str(spare)
    wait_for(lambda: not alive(spare), "the spare of the other environment retired")
    spare = wait_for_warm_job(data)
    kernel = kernel_of(spare)
    os.kill(kernel, signal.SIGKILL)
    wait_for(lambda: not alive(kernel), "the spare's kernel gone")
    cold = run(setup, "sub/where.ipynb", "-p", "n=5", env={"ANOTHER_SETTING": "1"})
    assert cold["state"] == "succeeded" and cold["job_id"] != str(spare), cold
    assert "n 5\n" in outputs(workspace, cold)
    wait_for(lambda: not alive(spare), "the spare with a dead kernel gone")


def test_a_warm_run_is_cancelled_with_its_kernel(setup):
    _, data, _ = setup
    assert run(setup, "sub/where.ipynb")["state"] == "succeeded"
    spare = wait_for_warm_job(data)
    kernel = kernel_of(spare)
    slow = run(setup, "slow.ipynb", wait=False)
    assert slow["job_id"] == str(spare)
    workspace, _, env = setup

    def running():
        shown = cygnet("runs", "show", slow["id"], "--json", env=env)
        return json.loads(shown.stdout)["state"] == "running"

    wait_for(running, "running")
    cancelled = cygnet("runs", "cancel", slow["id"], "--json", env=env)
    assert json.loads(cancelled.stdout)["state"] == "cancelled", cancelled.stderr
    wait_for(lambda: not alive(spare) and not alive(kernel), "the warm job and its kernel gone", timeout=30)
    # The next run starts anew; the spare it leaves sweeps the killed one's scratch.
    assert run(setup, "sub/where.ipynb")["state"] == "succeeded"
    wait_for_warm_job(data)
    assert not (data / "runs" / warm.FOLDER / "scratch" / str(spare)).exists()


def test_a_spare_refuses_what_is_not_a_new_run_of_its_own_and_ends_when_idle(setup):
    _, data, _ = setup
    first = run(setup, "sub/where.ipynb", idle=4)
    spare = wait_for_warm_job(data)
    kernel = kernel_of(spare)
    [path] = sockets(data)
    for run_dir in (str(data), str(data / "runs" / first["id"]), "/etc", 5):  # an ended run, not a run, no path
        with connected(path) as conn:
            conn.sendall(json.dumps({"run_dir": run_dir}).encode() + b"\n")
            assert b'"error"' in conn.recv(1000), run_dir
    assert spare_pid(path) == spare  # still waiting for a run of its own
    wait_for(lambda: not alive(spare) and not alive(kernel), "the idle spare gone", timeout=60)
    assert not sockets(data) and not list((data / "runs" / warm.FOLDER / "scratch").iterdir())


def test_with_warm_idle_0_no_spare_starts(setup):
    _, data, _ = setup
    done = run(setup, "sub/where.ipynb", idle=0)
    assert done["state"] == "succeeded"
    wait_for(lambda: not alive(int(done["job_id"])), "the job's process gone")
    assert not (data / "runs" / warm.FOLDER).exists()
