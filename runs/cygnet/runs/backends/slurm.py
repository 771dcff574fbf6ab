"""`slurm`: the job as a batch script given to `sbatch`, followed with `squeue`, cancelled with
`scancel`. The site's choices are typed options (`c.SlurmRunBackend.partition`, ...), written as
`#SBATCH` lines after the run's own; the environment goes to sbatch as its process's own (sbatch
exports it to the job), never into the script."""

import os
import re
import shlex

from traitlets import List, Unicode

from cygnet.core.errors import BadInput

from .base import RunBackend, one_line
from .job import Job
from .tools import require, run_tool

NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
NAMES = re.compile(r"^[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+-]+)*$")  # a partition or QOS list
# Slurm's time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; UNLIMITED and INFINITE.
TIME = re.compile(r"^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|unlimited|infinite)$", re.I)
QUEUED = ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED")
RUNNING = ("RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING")


class SlurmRunBackend(RunBackend):
    """Runs as Slurm jobs. The job runs the session's Python, views and workspace at the same
    paths, so the batch nodes must see them (CVMFS and a shared home do)."""

    name = "slurm"

    partition = Unicode(
        "",
        help="The Slurm partition runs go to (sbatch --partition), or a comma-separated list of them. "
        "Empty: the cluster's default partition.",
    ).tag(config=True)

    account = Unicode("", help="The Slurm account runs are charged to (--account). Empty: the user's default.").tag(
        config=True
    )

    qos = Unicode("", help="The Slurm quality of service of runs (--qos). Empty: the account's default.").tag(
        config=True
    )

    time_limit = Unicode(
        "",
        help="The longest a run may take on Slurm (--time), in Slurm's forms: MINUTES, HH:MM:SS, "
        "DAYS-HH:MM:SS, ... Empty: the partition's limit.",
    ).tag(config=True)

    extra_directives = List(
        Unicode(),
        [],
        help="More #SBATCH options for runs on Slurm, one per item, written as given after the others, "
        "such as --constraint=avx2 or --mail-type=END. Replaces the deprecated Cygnet.runs_slurm_options.",
    ).tag(config=True)

    def check(self) -> None:
        for trait, pattern, what in (
            ("partition", NAMES, "a partition name (or a comma-separated list)"),
            ("account", NAME, "an account name"),
            ("qos", NAMES, "a QOS name (or a comma-separated list)"),
            ("time_limit", TIME, "a Slurm time such as 90, 02:00:00 or 1-12:00:00"),
        ):
            value = getattr(self, trait)
            if value and not pattern.match(value):
                raise BadInput(f"{self.option(trait)} is {value!r}, which is not {what}")
        for directive in self.extra_directives:
            one_line(directive, self.option("extra_directives"))
            if not directive.strip().startswith("-"):
                raise BadInput(
                    f"{self.option('extra_directives')}: {directive!r} is not an sbatch option "
                    "(write it as --name=value, without '#SBATCH')"
                )

    def directives(self, job: Job) -> list[str]:
        """The sbatch options of `job`: the run's own, the resources, then the site's."""
        for value, what in ((job.log, "the run's folder"), (job.workdir, "the workspace path")):
            one_line(value, what)
        options = [f"--job-name=cygnet-run-{job.run_id}", f"--output={job.log}", f"--chdir={job.workdir}"]
        options += [f"--{flag}={value}" for flag, value in self._named() if value]
        if job.cpus:
            options.append(f"--cpus-per-task={job.cpus}")
        if job.memory_mb:
            options.append(f"--mem={job.memory_mb}M")
        time_limit = str(job.time_limit_minutes) if job.time_limit_minutes else self.time_limit
        if time_limit:
            options.append(f"--time={time_limit}")
        return options + [d.strip() for d in self.extra_directives]

    def _named(self) -> list[tuple[str, str]]:
        return [("partition", self.partition), ("account", self.account), ("qos", self.qos)]

    def script(self, job: Job) -> str:
        """The batch script: #SBATCH lines, then the job's command."""
        self.check()
        lines = ["#!/bin/bash"] + [f"#SBATCH {option}" for option in self.directives(job)]
        lines.append("exec " + shlex.join(job.command))
        return "\n".join(lines) + "\n"

    def describe(self, job: Job) -> str:
        return self.script(job)

    def submit(self, job: Job) -> str:
        script = self.script(job)
        sbatch = require("sbatch", "the slurm backend submits runs with sbatch")
        path = os.path.join(job.run_dir, "job.sbatch")
        with open(path, "w") as f:
            f.write(script)
        _, out, _ = run_tool([sbatch, "--parsable", path], "submitting to Slurm", env=job.env)
        return out.split(";")[0].strip()

    def state(self, job_id: str, run_dir: str) -> str:
        squeue = require("squeue", "the slurm backend follows runs with squeue")
        _, out, _ = run_tool([squeue, "--noheader", "--jobs", job_id, "--format=%T"], "asking Slurm", ok_codes=(0, 1))
        state = out.strip().upper()
        if state in QUEUED:
            return "queued"
        if state in RUNNING:
            return "running"
        return "ended"  # no longer in the queue: status.json says how it ended

    def cancel(self, job_id: str, run_dir: str) -> None:
        scancel = require("scancel", "the slurm backend cancels runs with scancel")
        run_tool([scancel, job_id], "cancelling the Slurm job")
