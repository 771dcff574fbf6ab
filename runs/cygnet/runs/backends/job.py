"""The job every backend runs: `python -m cygnet.runs.execute RUN_DIR` in the workspace, with the
run's environment and the resources it asks for (0: the backend's or the site's default)."""

import os
import sys
from dataclasses import dataclass


@dataclass
class Job:
    """What every backend runs."""

    run_id: str
    run_dir: str
    workdir: str
    env: dict[str, str]
    kernel: str = ""  # the kernel spec it runs (a local run may be handed to a warm job of it)
    python: str = sys.executable
    cpus: int = 0  # 0: the backend's default
    memory_mb: int = 0
    time_limit_minutes: int = 0

    @property
    def command(self) -> list[str]:
        return [self.python, "-m", "cygnet.runs.execute", self.run_dir]

    @property
    def log(self) -> str:
        return os.path.join(self.run_dir, "job.log")
