"""A real dask-gateway-server for tests and benchmarks: its local backend (scheduler and
workers are processes on this machine, in a view), simple authentication (a user name), on
127.0.0.1, configured by Cygnet's own `cygnet.hub.dask_gateway`."""

import os
import subprocess
import time
from pathlib import Path

import requests

from .jupyter import VENV_BIN, free_port


class Gateway:
    def __init__(
        self,
        folder,
        views_roots,
        default_view=None,
        idle_timeout=600,
        max_workers=8,
        backend="unsafe-local",
        env=None,
        database=False,
    ):
        """`database`: keep the gateway's records in folder/gateway.sqlite (`self.database`), as
        the hub does, instead of in memory."""
        from cygnet.core.config import Cygnet
        from cygnet.hub.dask_gateway import encrypt_key, workers_python_path, write_config

        folder = Path(folder)
        self.port, self.proxy_port = free_port(), free_port()
        self.address = f"http://127.0.0.1:{self.proxy_port}"  # its public face (the API server is behind it)
        settings = {
            "address": f"127.0.0.1:{self.port}",
            "proxy_address": f"127.0.0.1:{self.proxy_port}",
            "auth": "simple",
            "backend": backend,
            "clusters_directory": str(folder / "clusters") if backend == "unsafe-local" else None,
            "slurm": {"scheduler_memory_gib": 0.5},
            "idle_timeout": idle_timeout,
            "max_workers": max_workers,
            "views_roots": [str(root) for root in views_roots],
            "default_view": default_view,
            "python_path": workers_python_path(Cygnet().kernel_packages, folder),
        }
        self.database = folder / "gateway.sqlite" if database else None
        if database:
            settings.update(db_url=f"sqlite:///{self.database}", encrypt_key_file=str(encrypt_key(folder)))
        self.config = write_config(folder, settings)
        self.log = open(folder / "gateway.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dask-gateway-server"), "-f", str(self.config)],
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.address}/api/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask-gateway-server did not start: {(folder / 'gateway.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def catalogue_entry(self, name="gateway"):
        return {
            "name": name,
            "kind": "dask-gateway",
            "address": self.address,
            "proxy_address": f"gateway://127.0.0.1:{self.proxy_port}",
        }

    def clusters(self, user):
        """The names of `user`'s running clusters, asked of the gateway itself."""
        answer = requests.get(f"{self.address}/api/v1/clusters/", auth=(user, ""), timeout=10)
        answer.raise_for_status()
        return sorted(answer.json())

    def log_tail(self, size=6000):
        return Path(self.log.name).read_text(errors="replace")[-size:]

    def stop(self):
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
