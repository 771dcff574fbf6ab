"""podman's Docker-compatible API on a Unix socket of the test's own (`podman system service`),
for DockerSpawner as a site runs it against Docker, and the session image `make test-image`
builds. Rootful podman: the tests run as root (CI does), like the Slurm tests."""

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.service import Service
from tests.support.waiting import wait_for

IMAGE = "localhost/cygnet:test"
HUB_ADDRESS = "10.213.7.1"  # the hub host's address that sessions reach it by (private, on `lo`)
# What docker/test-image.sh sets for these machines: explicit ulimits and the runc runtime.
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
"""


def why_not_available():
    """Why the container tests cannot run here, or None."""
    if not shutil.which("podman"):
        return "podman is not installed (make test-sites installs it)"
    if os.geteuid() != 0:
        return "rootful podman needs root"
    if subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True).returncode != 0:
        return f"the session image {IMAGE} is not built (make test-sites builds it, about 15 minutes the first time)"
    return None


class PodmanAPI(Service):
    what = "podman's Docker API"

    def __init__(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.socket = folder / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.cmd = ["podman", "system", "service", "--time=0", self.url]
        self.log_path = folder / "podman-service.log"

    def start(self, timeout=60):
        return self.launch(timeout)

    def ready(self):
        import docker

        if not self.socket.exists():
            return False
        return docker.APIClient(base_url=self.url, version="auto", timeout=5).ping()

    def stop(self):
        self.stop_process(20)
        if self.proc:
            self._log.close()

    def podman(self, *args):
        """`podman ARGS` with the service's settings; its output."""
        done = subprocess.run(["podman", *args], capture_output=True, text=True, env=self.env, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def inspect(self, kind, name):
        return json.loads(self.podman(kind, "inspect", name))[0]

    def containers(self, prefix):
        return [n for n in self.podman("ps", "-a", "--format", "{{.Names}}").split() if n.startswith(prefix)]

    def wait_gone(self, name, timeout=240):
        wait_for(lambda: name not in self.containers(name), f"the container {name} is removed", timeout)

    def remove(self, kind, *names):
        """Remove test leftovers (containers, volumes, networks) that are there."""
        for name in names:
            subprocess.run(["podman", kind, "rm", "-f", name], capture_output=True, env=self.env, timeout=120)


@contextlib.contextmanager
def hub_address_on_lo():
    """HUB_ADDRESS on the loopback interface while in the block: an address of the host's own,
    reachable from containers through their bridges and from no other machine."""
    had = HUB_ADDRESS in subprocess.run(["ip", "-o", "addr", "show", "lo"], capture_output=True, text=True).stdout
    if not had:
        subprocess.run(["ip", "addr", "add", f"{HUB_ADDRESS}/32", "dev", "lo"], check=True)
    try:
        yield HUB_ADDRESS
    finally:
        if not had:
            subprocess.run(["ip", "addr", "del", f"{HUB_ADDRESS}/32", "dev", "lo"], check=False)


def box_view(root, release, platform):
    """A view under `root` (mounted at the same path in the containers) whose Python is the
    image's: a site's view built for the image's system."""
    from tests.support.views import lcg_view

    root = Path(root)
    view = lcg_view(root, release, platform, python=False)
    (view / "bin").mkdir()
    python = view / "bin" / "python3"
    python.write_text('#!/bin/sh\nexec /opt/cygnet/.venv/bin/python3 "$@"\n')
    python.chmod(0o755)
    # The containers' uid 1000 reads it (the folders above are the container's own, not these).
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)
    return view
