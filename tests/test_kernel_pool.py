"""The kernel pool (cygnet.kernels.pool): a notebook opened on a view used before gets a kernel
started ahead, pointed at the notebook's folder, with nothing of the pool's in it; a kernel whose
environment changed since is not handed over; a new session starts one for the view used last; a
restart takes one too. Real servers and real kernels of a test view."""

import json

import pytest

from cygnet.kernels.pool import READY
from tests.support.cli import PLATFORM
from tests.support.jupyter import JupyterServer, KernelClient
from tests.support.views import kernel_name, lcg_view
from tests.support.waiting import wait_for

TAKEN = "taken from the pool"
PROBE = (
    "import json, os; print(json.dumps({'cwd': os.getcwd(), 'session': __session__, "
    "'env_session': os.environ.get('JPY_SESSION_NAME'), 'script': os.environ.get('POOL_SCRIPT'), "
    "'count': get_ipython().execution_count, 'names': sorted(n for n in get_ipython().user_ns if not n.startswith('_'))"
    " }))"
)


@pytest.fixture
def pool_setup(tmp_path, kernel_site):
    views = tmp_path / "views"
    lcg_view(views, "LCG_pool", PLATFORM, kernel_site=kernel_site)
    workspace = tmp_path / "ws"
    (workspace / "analysis" / "deep").mkdir(parents=True)
    (workspace / "env.sh").write_text("export POOL_SCRIPT=first\n")
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(views)}
    args = ["--Cygnet.env_script=env.sh", "--Cygnet.build_default_view=False", "--Cygnet.kernel_pool_size=1"]
    return {
        "env": env,
        "args": args,
        "workspace": workspace,
        "data": tmp_path / "data",
        "name": kernel_name("LCG_pool", PLATFORM),
    }


def open_notebook(server, path, name):
    """As JupyterLab opens a notebook: a session for its path, named after its file."""
    body = {"path": path, "type": "notebook", "name": path.rsplit("/", 1)[-1], "kernel": {"name": name}}
    r = server.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()["kernel"]["id"]


def probe(server, kernel_id):
    client = KernelClient(server, kernel_id)
    try:
        status, out, err = client.execute(PROBE)
        assert status == "ok", err
        return json.loads(out.strip().splitlines()[-1])
    finally:
        client.ws.close()


def taken(server):
    return server.log_path.read_text().count(TAKEN)


def test_a_notebook_on_a_view_used_before_gets_a_kernel_started_ahead_and_pointed_at_it(pool_setup):
    s = pool_setup
    with JupyterServer(env=s["env"], root=s["workspace"], args=s["args"]) as server:
        # A new user's session starts a kernel ahead for the view it was started on.
        first = open_notebook(server, "first.ipynb", s["name"])
        assert taken(server) == 1, "the session's view has a kernel started ahead"
        wait_for(lambda: server.log_path.read_text().count(READY) >= 2, "the pool refilled", timeout=120)
        second = open_notebook(server, "analysis/deep/second.ipynb", s["name"])
        assert taken(server) == 2, "the second notebook on the view gets the pooled kernel"
        seen = probe(server, second)
        assert seen["cwd"] == str(s["workspace"] / "analysis" / "deep")
        # The notebook's session name, as jupyter_server gives a kernel it starts (its full path).
        assert seen["session"] == seen["env_session"] == str(s["workspace"] / "analysis" / "deep" / "second.ipynb")
        assert seen["script"] == "first"  # the user's environment script, as a fresh kernel has it
        assert seen["count"] == 1, "the pointing-at left no trace in the history"
        assert seen["names"] == probe(server, first)["names"], "the pool left names in the user's namespace"
        # The pool refills behind the hand-over, and its kernels are not listed as the user's.
        listed = {k["id"] for k in server.get("/api/kernels").json()}
        assert listed == {first, second}
        third = open_notebook(server, "third.ipynb", s["name"])
        assert taken(server) == 3 and third not in (first, second)
        assert probe(server, third)["cwd"] == str(s["workspace"])


def test_a_pooled_kernel_whose_environment_changed_is_not_handed_over(pool_setup):
    s = pool_setup
    with JupyterServer(env=s["env"], root=s["workspace"], args=s["args"]) as server:
        open_notebook(server, "a.ipynb", s["name"])
        wait_for(lambda: server.log_path.read_text().count(READY) >= 2, "the pool refilled", timeout=120)
        (s["workspace"] / "env.sh").write_text("export POOL_SCRIPT=second\n")  # after the pool filled
        before = taken(server)
        fresh = open_notebook(server, "b.ipynb", s["name"])
        assert probe(server, fresh)["script"] == "second"
        assert taken(server) == before
        assert "not used" in server.log_path.read_text()


def test_a_new_session_starts_a_kernel_for_the_view_used_last(pool_setup):
    s = pool_setup
    with JupyterServer(env=s["env"], root=s["workspace"], args=s["args"]) as server:
        open_notebook(server, "a.ipynb", s["name"])
    with JupyterServer(env=s["env"], root=s["workspace"], args=s["args"]) as server:
        kernel = open_notebook(server, "b.ipynb", s["name"])  # the first open of this session
        assert taken(server) == 1
        assert probe(server, kernel)["session"] == str(s["workspace"] / "b.ipynb")
        # Launched while the server loaded, so it boots while the server starts up.
        log = server.log_path.read_text()
        assert -1 < log.find("Kernel started:") < log.find("is running at"), log[-3000:]


def test_no_pool_when_it_is_turned_off(pool_setup):
    s = pool_setup
    args = [*[a for a in s["args"] if "kernel_pool_size" not in a], "--Cygnet.kernel_pool_size=0"]
    with JupyterServer(env=s["env"], root=s["workspace"], args=args) as server:
        open_notebook(server, "a.ipynb", s["name"])
        second = open_notebook(server, "b.ipynb", s["name"])
        assert taken(server) == 0
        assert len(server.get("/api/kernels").json()) == 2
        assert probe(server, second)["session"] == str(s["workspace"] / "b.ipynb")


def test_the_pool_stops_its_kernels_when_no_kernel_starts_for_a_while(pool_setup):
    s = pool_setup
    args = [*s["args"], "--Cygnet.kernel_pool_idle=2"]
    with JupyterServer(env=s["env"], root=s["workspace"], args=args) as server:
        open_notebook(server, "a.ipynb", s["name"])
        wait_for(lambda: server.log_path.read_text().count(READY) >= 2, "the pool refilled", timeout=120)
        wait_for(lambda: "the pool stops its kernels" in server.log_path.read_text(), "the pool's idle limit")
        before = taken(server)
        open_notebook(server, "b.ipynb", s["name"])
        assert taken(server) == before, "no pooled kernel was kept past the idle limit"
    # A new session does not start a kernel for a view not used within the idle limit (its last
    # use put back an hour, so the test does not depend on how fast the next server starts).
    saved = s["data"] / "kernel-pool.json"
    state = json.loads(saved.read_text())
    state["used"] = {name: when - 3600 for name, when in state["used"].items()}
    saved.write_text(json.dumps(state))
    with JupyterServer(env=s["env"], root=s["workspace"], args=args) as server:
        open_notebook(server, "c.ipynb", s["name"])
        assert taken(server) == 0


def test_a_restart_takes_a_pooled_kernel_and_keeps_the_notebooks_folder_and_id(pool_setup):
    s = pool_setup
    with JupyterServer(env=s["env"], root=s["workspace"], args=s["args"]) as server:
        kernel = open_notebook(server, "analysis/r.ipynb", s["name"])  # the kernel started ahead
        client = KernelClient(server, kernel)
        assert client.execute("before = 1")[0] == "ok"
        wait_for(lambda: server.log_path.read_text().count(READY) >= 2, "the pool refilled", timeout=120)
        r = server.post(f"/api/kernels/{kernel}/restart")
        assert r.status_code == 200, r.text
        client.ws.close()
        assert "restarted with a pooled kernel's process" in server.log_path.read_text()
        seen = probe(server, kernel)  # a new connection, as JupyterLab reconnects after a restart
        assert "before" not in seen["names"] and seen["count"] == 1
        assert seen["cwd"] == str(s["workspace"] / "analysis")
        assert seen["session"] == str(s["workspace"] / "analysis" / "r.ipynb")
        assert [k["id"] for k in server.get("/api/kernels").json()] == [kernel]
        # The kernel it got came from the pool, so a restart of that one restarts where it should too.
        wait_for(lambda: server.log_path.read_text().count(READY) >= 3, "the pool refilled", timeout=120)
        assert server.post(f"/api/kernels/{kernel}/restart").status_code == 200
        assert probe(server, kernel)["cwd"] == str(s["workspace"] / "analysis")
        # A kernel two browsers hold restarts in place: the second would keep the old ports.
        first, second = KernelClient(server, kernel), KernelClient(server, kernel)
        wait_for(lambda: server.log_path.read_text().count(READY) >= 4, "the pool refilled", timeout=120)
        moved = server.log_path.read_text().count("pooled kernel's process")
        assert server.post(f"/api/kernels/{kernel}/restart").status_code == 200
        assert server.log_path.read_text().count("pooled kernel's process") == moved
        first.ws.close()
        second.ws.close()


def test_a_kernel_whose_shutdown_hangs_is_killed_within_the_limit(tmp_path, monkeypatch):
    """A shutdown stuck on the kernel manager's own state (not the kernel's: jupyter_client kills
    a kernel that does not stop) must not leave a DELETE, or the server's stop, waiting forever.
    A real python3 kernel, in process; its manager's shutdown is made to hang."""
    import asyncio
    import time

    from cygnet.kernels import pool

    monkeypatch.setattr(pool, "SHUTDOWN_LIMIT", 1.0)

    async def scenario():
        manager = pool.PooledKernelManager(root_dir=str(tmp_path), connection_dir=str(tmp_path))
        kernel_id = await manager.start_kernel(kernel_name="python3")
        kernel = manager.get_kernel(kernel_id)
        pid = kernel.provisioner.pid

        async def stuck(*args, **kwargs):
            await asyncio.Event().wait()

        kernel.shutdown_kernel = stuck
        began = time.monotonic()
        await manager.shutdown_kernel(kernel_id)
        took = time.monotonic() - began
        assert took < 10, took
        assert kernel_id not in manager and manager.list_kernels() == []
        return pid

    pid = asyncio.run(scenario())
    wait_for(lambda: not _running(pid), "the stuck kernel's process is killed", timeout=30)


def test_the_wait_for_a_pooled_kernel_follows_it_to_its_new_ports(tmp_path):
    """Another session's kernel can take a port a pooled kernel was given before it binds it:
    the kernel dies and its restarter brings it back on new ports. The pool's wait for it to
    answer must follow it there: kept on the first ports, it waited START_TIMEOUT (120 s) and a
    notebook opened meanwhile waited with it. A real python3 kernel, in process, killed and
    started again on new ports as its restarter does."""
    import asyncio
    import os
    import signal

    from jupyter_client.connect import port_names

    from cygnet.core.loopback import kernel_port
    from cygnet.kernels import pool

    async def scenario():
        manager = pool.PooledKernelManager(root_dir=str(tmp_path), connection_dir=str(tmp_path))
        kernel = manager.get_kernel(await manager.start_kernel(kernel_name="python3"))
        kernel.stop_restarter()  # this test plays the restarter
        first = kernel.get_connection_info()["shell_port"]
        answering = asyncio.ensure_future(pool._answering(kernel))
        await asyncio.sleep(0)  # its wait is under way, on the first ports
        os.kill(kernel.provisioner.pid, signal.SIGKILL)
        for name in port_names:  # what ViewProvisioner.choose_ports does when a port was taken
            setattr(kernel, name, kernel_port(avoid={kernel.get_connection_info()[n] for n in port_names}))
        kernel.cleanup_connection_file()
        try:
            await kernel.restart_kernel(now=True)
            assert kernel.get_connection_info()["shell_port"] != first
            await asyncio.wait_for(answering, 60)  # the kernel answers on its new ports
        finally:
            answering.cancel()
            await manager.shutdown_all(now=True)

    asyncio.run(scenario())


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
