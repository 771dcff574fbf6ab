"""What a run backend is. Every backend starts the same job (`Job.command`) and answers what it is
doing: 'queued', 'running' or 'ended' (the run's own status.json then says how it ended).

A backend is a traitlets Configurable, so its settings are typed options of its own
(`c.SlurmRunBackend.partition = "batch"`), and a site adds a backend by declaring a subclass in
the `cygnet.run_backends` entry point group (see `registry`).
"""

from abc import ABCMeta, abstractmethod
from typing import ClassVar

from traitlets import MetaHasTraits
from traitlets.config import LoggingConfigurable

from cygnet.core.errors import BadInput

from .job import Job

STATES = ("queued", "running", "ended")


class _AbstractTraits(MetaHasTraits, ABCMeta):
    """traitlets' metaclass with ABC's, so an incomplete backend cannot be made."""


class RunBackend(LoggingConfigurable, metaclass=_AbstractTraits):
    """Where a run's job runs: submit it, follow it, cancel it, and describe it as the scheduler
    gets it (so a description can be checked where the scheduler is not)."""

    name: ClassVar[str] = ""

    @abstractmethod
    def submit(self, job: Job) -> str:
        """Start `job`; the scheduler's id for it."""

    @abstractmethod
    def state(self, job_id: str, run_dir: str) -> str:
        """'queued', 'running' or 'ended'. Unavailable when the scheduler does not answer."""

    @abstractmethod
    def cancel(self, job_id: str, run_dir: str) -> None:
        """Stop the job (and whatever it started); a job that has ended already is no error."""

    @abstractmethod
    def describe(self, job: Job) -> str:
        """What the scheduler is given for `job` (a script, a submit description, a manifest),
        checked: BadInput naming the option when the settings cannot make a valid one."""

    def check(self) -> None:
        """Refuse settings that cannot make a valid job (BadInput naming the option); called once
        when the backend is made, so a site's mistake shows at start, not at the first run."""

    def option(self, trait: str) -> str:
        """How a site writes one of this backend's options, for messages."""
        return f"c.{type(self).__name__}.{trait}"


def one_line(value: str, what: str) -> str:
    """`value`, refused when it would break the line it is written on."""
    if any(c in value for c in "\n\r\0"):
        raise BadInput(f"{what} must be one line: {value!r}")
    return value
