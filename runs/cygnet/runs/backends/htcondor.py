"""`htcondor`: the job as an HTCondor submit description given to `condor_submit`, followed with
`condor_q`, cancelled with `condor_rm`. The description is made and checked anywhere; submitting
needs HTCondor's tools and the site's schedd.

The environment is written into the description (`getenv = False`): a variable it cannot carry
(a name that is not an identifier, such as bash's exported functions, or a value of several
lines) is left out."""

import os
import re

from traitlets import List, Unicode

from cygnet.core.errors import BadInput, Unavailable

from .base import RunBackend, one_line
from .job import Job
from .tools import require, run_tool

COMMAND = re.compile(r"^\s*(?P<name>\+?[A-Za-z_][A-Za-z0-9_.]*)\s*=(?P<value>.*)$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GROUP = re.compile(r"^[A-Za-z0-9_.@-]+$")
# Commands Cygnet writes itself: the run's command, paths and environment, and the one `queue`.
OWN = ("executable", "arguments", "initialdir", "output", "error", "log", "environment", "getenv", "queue")
# condor_q's JobStatus: 1 idle, 2 running, 3 removed, 4 completed, 5 held, 6 transferring
# output, 7 suspended.
QUEUED, RUNNING = ("1", "5", "7"), ("2", "6")


class HTCondorRunBackend(RunBackend):
    """Runs as HTCondor jobs (vanilla universe unless the site says otherwise). The job runs the
    session's Python, views and workspace at the same paths, so the execute nodes must see them."""

    name = "htcondor"

    requirements = Unicode(
        "",
        help="A ClassAd expression the machine of a run on HTCondor must match, such as "
        '(OpSysAndVer == "AlmaLinux9"). Empty: HTCondor\'s default.',
    ).tag(config=True)

    accounting_group = Unicode(
        "", help="The HTCondor accounting group runs are charged to (accounting_group). Empty: none."
    ).tag(config=True)

    extra_submit_lines = List(
        Unicode(),
        [],
        help="More submit description commands for runs on HTCondor, one 'name = value' per item, such as "
        "'+JobFlavour = \"workday\"' or 'universe = container'. Replaces the deprecated Cygnet.runs_htcondor_options.",
    ).tag(config=True)

    def check(self) -> None:
        if self.requirements:
            _check_expression(one_line(self.requirements, self.option("requirements")), self.option("requirements"))
        if self.accounting_group and not GROUP.match(self.accounting_group):
            raise BadInput(f"{self.option('accounting_group')} is {self.accounting_group!r}, not a group name")
        typed = {"requirements": self.requirements, "accounting_group": self.accounting_group}
        for line in self.extra_submit_lines:
            one_line(line, self.option("extra_submit_lines"))
            match = COMMAND.match(line)
            name = match["name"].lower() if match else line.strip().split(" ")[0].lower()
            if name in OWN:
                raise BadInput(f"{self.option('extra_submit_lines')}: {line!r} sets {name}, which Cygnet writes itself")
            if not match:
                raise BadInput(f"{self.option('extra_submit_lines')}: {line!r} is not a submit command (name = value)")
            if typed.get(name):
                raise BadInput(
                    f"{self.option('extra_submit_lines')}: {line!r} sets {name}, which {self.option(name)} sets already"
                )

    def description(self, job: Job) -> str:
        """The submit description of `job`, checked."""
        self.check()
        for value, what in ((job.run_dir, "the run's folder"), (job.workdir, "the workspace path")):
            one_line(value, what)
        lines = [
            "universe = vanilla",
            f"executable = {job.python}",
            f"arguments = {_quoted_args(job.command[1:])}",
            f"initialdir = {job.workdir}",
            f"output = {job.log}",
            f"error = {job.log}",
            f"log = {os.path.join(job.run_dir, 'condor.log')}",
            f"batch_name = cygnet-run-{job.run_id}",
            "getenv = False",
            f"environment = {_quoted_env(job.env)}",
        ]
        if job.cpus:
            lines.append(f"request_cpus = {job.cpus}")
        if job.memory_mb:
            lines.append(f"request_memory = {job.memory_mb}")
        if job.time_limit_minutes:
            lines.append(f"+MaxRuntime = {job.time_limit_minutes * 60}")
        if self.requirements:
            lines.append(f"requirements = {self.requirements}")
        if self.accounting_group:
            lines.append(f"accounting_group = {self.accounting_group}")
        lines += [line.strip() for line in self.extra_submit_lines]
        lines.append("queue")
        return "\n".join(lines) + "\n"

    def describe(self, job: Job) -> str:
        return self.description(job)

    def submit(self, job: Job) -> str:
        description = self.description(job)
        condor_submit = require(
            "condor_submit", "the htcondor backend submits runs to the site's HTCondor schedd with condor_submit"
        )
        path = os.path.join(job.run_dir, "job.sub")
        with open(path, "w") as f:
            f.write(description)
        _, out, _ = run_tool([condor_submit, "-terse", path], "submitting to HTCondor")
        job_id = out.split()[0] if out.split() else ""  # "123.0 - 123.0"
        if not re.match(r"^\d+\.\d+$", job_id):
            raise Unavailable(f"condor_submit answered no job id: {out.strip()[:200]!r}")
        return job_id

    def state(self, job_id: str, run_dir: str) -> str:
        condor_q = require("condor_q", "the htcondor backend follows runs with condor_q")
        _, out, _ = run_tool([condor_q, job_id, "-af", "JobStatus"], "asking HTCondor")
        status = out.strip()
        if status in QUEUED:
            return "queued"
        if status in RUNNING:
            return "running"
        return "ended"  # removed, completed or gone from the queue: status.json says how

    def cancel(self, job_id: str, run_dir: str) -> None:
        condor_rm = require("condor_rm", "the htcondor backend cancels runs with condor_rm")
        run_tool([condor_rm, job_id], "cancelling the HTCondor job")


def _check_expression(expression: str, option: str) -> None:
    """Refuse an expression whose quotes or parentheses do not close (HTCondor would refuse the
    whole description, or read the rest of it as part of the expression)."""
    depth, quoted, escaped = 0, False, False
    for c in expression:
        if quoted:
            quoted = escaped or c != '"'
            escaped = not escaped and c == "\\"
        elif c == '"':
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise BadInput(f"{option}: {expression!r} closes a parenthesis it never opened")
    if quoted:
        raise BadInput(f"{option}: {expression!r} has a string that is not closed")
    if depth:
        raise BadInput(f"{option}: {expression!r} has a parenthesis that is not closed")


def _quoted_args(args: list[str]) -> str:
    # HTCondor's "new syntax": the whole value in double quotes, each argument in single quotes.
    return '"' + " ".join("'" + a.replace("'", "''").replace('"', '""') + "'" for a in args) + '"'


def _quoted_env(env: dict[str, str]) -> str:
    kept = {k: v for k, v in env.items() if ENV_NAME.match(k) and not any(c in v for c in "\n\r\0")}
    return (
        '"' + " ".join(f"{k}='" + v.replace("'", "''").replace('"', '""') + "'" for k, v in sorted(kept.items())) + '"'
    )
