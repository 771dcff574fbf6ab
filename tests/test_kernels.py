"""Kernels run inside their view: started through the real server's REST API, code executed
over its websocket, as JupyterLab does."""

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from jupyter_client.connect import port_names

from cygnet.core.loopback import KERNELS_FROM, ephemeral_range
from tests.support.cli import PLATFORM
from tests.support.jupyter import KernelClient
from tests.support.views import kernel_name, times_sourced
from tests.support.waiting import wait_for

PROBE = """
import json, os, sys, importlib.util
def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
import viewonly_mod
print(json.dumps({
    "executable": sys.executable,
    "marker": os.environ.get("CYGNET_TEST_MARKER"),
    "view": os.environ.get("CYGNET_VIEW"),
    "viewonly": viewonly_mod.WHERE,
    "sentinel": os.environ.get("SERVER_ONLY_SENTINEL"),
    "home": os.environ.get("HOME"),
    "server_packages": {m: importable(m) for m in
        ["jupyter_server", "jupyterlab", "jupyterlab_server", "cygnet.views", "cygnet.server"]},
    "kernel_side": all(
        importable(m)
        for m in ("cygnet.kernels.kernel_extension", "cygnet.spark.session", "cygnet.core.errors", "cygnet.storage")
    ),
    "sys_path": sys.path,
}))
"""


@pytest.fixture
def kernels(server):
    started = []

    def start(name):
        k = server.kernel(name)
        started.append(k)
        return k

    yield start
    for k in started:
        k.shutdown()


def probe(kernel):
    return json.loads(kernel.run(PROBE).strip().splitlines()[-1])


def test_every_usable_view_is_a_kernel_and_only_those(server):
    specs = server.get("/api/kernelspecs").json()
    names = set(specs["kernelspecs"])
    assert kernel_name("LCG_marker", PLATFORM) in names
    assert kernel_name("built", PLATFORM) in names
    for broken in ("LCG_nopython", "LCG_nosetup", "LCG_empty"):
        assert not any(n.startswith(broken.lower()) for n in names), names
    assert "python3" not in names, "the server's own kernel must not be offered"
    spec = specs["kernelspecs"][kernel_name("LCG_marker", PLATFORM)]["spec"]
    assert spec["display_name"] == f"Python 3 (LCG_marker {PLATFORM})"
    assert spec["metadata"]["cygnet"]["view"] == f"LCG_marker/{PLATFORM}"
    assert specs["default"] == kernel_name("LCG_marker", PLATFORM)  # --Cygnet.default_view


def test_kernel_runs_the_views_python_with_the_views_environment(server, lcg_root, kernels):
    _, views = lcg_root
    info = probe(kernels(kernel_name("LCG_marker", PLATFORM)))
    assert info["executable"] == str(views["marker"] / "bin" / "python3")
    assert info["marker"] == "marker-LCG_marker"
    assert info["viewonly"] == "LCG_marker"
    assert info["view"] == f"LCG_marker/{PLATFORM}"
    assert info["home"], "HOME is passed through"


def test_service_packages_and_environment_do_not_leak_into_kernels(server, kernels):
    info = probe(kernels(kernel_name("LCG_marker", PLATFORM)))
    assert info["sentinel"] is None
    assert not any(info["server_packages"].values()), info["server_packages"]
    assert info["kernel_side"], "kernel-side Cygnet packages are put on the path explicitly"
    assert not any(".venv" in p for p in info["sys_path"]), info["sys_path"]


def test_kernel_extension_is_loaded_and_shows_the_view(server, kernels):
    out = kernels(kernel_name("LCG_second", PLATFORM)).run("%view")
    assert f"LCG_second/{PLATFORM}" in out


def test_second_kernel_start_does_not_source_setup_again(server, lcg_root, kernels):
    _, views = lcg_root
    kernels(kernel_name("LCG_second", PLATFORM)).run("1")
    after_first = times_sourced(views["second"])
    assert after_first >= 1
    kernels(kernel_name("LCG_second", PLATFORM)).run("1")
    assert times_sourced(views["second"]) == after_first


def test_kernels_started_together_on_a_cold_view_source_setup_once(server, lcg_root, kernels):
    _, views = lcg_root
    with ThreadPoolExecutor(3) as pool:
        started = list(pool.map(lambda _: kernels(kernel_name("LCG_parallel", PLATFORM)), range(3)))
    for kernel in started:
        assert kernel.run("print('up')").strip() == "up"
    assert times_sourced(views["parallel"]) == 1


def test_python3_notebooks_open_on_the_default_view(server, kernels):
    info = probe(kernels("python3"))
    assert info["view"] == f"LCG_marker/{PLATFORM}"


@pytest.mark.parametrize(
    "release, words",
    [
        ("LCG_failing", ["LCG_failing/x86_64-test", "setup.sh failed (exit 3)", "cannot find compiler gcc13"]),
        ("LCG_noipykernel", ["LCG_noipykernel/x86_64-test", "cannot import ipykernel"]),
    ],
)
def test_a_broken_view_gives_a_clear_error_and_the_server_keeps_running(server, release, words):
    r = server.start_kernel(kernel_name(release, PLATFORM))
    assert r.status_code == 503, r.text
    message = r.json()["message"]
    for word in words:
        assert word in message
    assert server.get("/api/status").status_code == 200
    listed = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
    assert listed[f"{release}/{PLATFORM}"]["usable"] is False
    assert words[-1] in listed[f"{release}/{PLATFORM}"]["reason"]


def test_unknown_kernel_name_is_refused(server):
    r = server.start_kernel("no_such_view__anywhere")
    assert r.status_code in (404, 500) and r.status_code != 201


KERNEL_FILE = (
    "import os; from ipykernel.kernelapp import IPKernelApp; print(os.getpid(), IPKernelApp.instance().connection_file)"
)


def test_a_kernels_ports_are_below_the_ephemeral_range_and_a_taken_one_does_not_stop_its_restart(server, kernels):
    """jupyter_client picks a kernel's ports by binding port 0 and letting go: any process's
    outgoing connection can take one before the kernel binds it, and its restarts reused the
    taken port until they gave the kernel up (CI met it once). Here the kernel dies and another
    program listens on its control port before the restart."""
    kernel = kernels(kernel_name("LCG_marker", PLATFORM))
    pid, connection_file = kernel.run(KERNEL_FILE).split()
    ports = _ports(connection_file)
    assert all(KERNELS_FROM <= port < ephemeral_range()[0] for port in ports.values()), ports
    os.kill(int(pid), signal.SIGKILL)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        wait_for(lambda: _bound(squatter, ports["control_port"]), "the dead kernel's control port taken", timeout=30)
        squatter.listen()
        wait_for(
            lambda: _ports(connection_file).get("control_port") not in (None, ports["control_port"]),
            "the kernel restarted on new ports",
            timeout=60,
        )
        assert KernelClient(server, kernel.id).run("print(6 * 7)").strip() == "42"
    finally:
        squatter.close()


def _ports(connection_file):
    try:
        info = json.loads(Path(connection_file).read_text())
    except (OSError, ValueError):  # between the restart's removal and its new file
        return {}
    return {name: info[name] for name in port_names}


def _bound(sock, port):
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
