"""Where a run's job runs: one module per backend, each a `RunBackend` (base) with typed
settings of its own, found by name in the `cygnet.run_backends` entry point group (registry).

- `local`: a detached process on this machine (the embedded default).
- `slurm`: `sbatch` / `squeue` / `scancel`.
- `htcondor`: a submit description for `condor_submit` / `condor_q` / `condor_rm`.
- `kubernetes`: a batch/v1 Job manifest for `kubectl`.

HTCondor's description and Kubernetes' manifest are made and checked anywhere; submitting them
needs the tools and the site's schedd or cluster.
"""

from traitlets.config import Config

from .base import RunBackend
from .htcondor import HTCondorRunBackend
from .job import Job
from .kubernetes import KubernetesRunBackend
from .local import LocalRunBackend
from .registry import GROUP, backend_class, declared, make, names
from .slurm import SlurmRunBackend

# The names these classes had before backends were declared.
LocalBackend = LocalRunBackend
SlurmBackend = SlurmRunBackend
HTCondorBackend = HTCondorRunBackend
KubernetesBackend = KubernetesRunBackend
BACKENDS = {
    cls.name: cls for cls in (LocalRunBackend, SlurmRunBackend, HTCondorRunBackend, KubernetesRunBackend)
}  # the built-in ones; the installed ones are `names()`


def backend_named(name: str, config: Config | None = None) -> RunBackend:
    """Backend `name`, configured from `config` (a traitlets Config holding its section) and
    checked; BadInput naming the installed backends when none has that name."""
    return make(name, config)


__all__ = [
    "BACKENDS",
    "GROUP",
    "HTCondorBackend",
    "HTCondorRunBackend",
    "Job",
    "KubernetesBackend",
    "KubernetesRunBackend",
    "LocalBackend",
    "LocalRunBackend",
    "RunBackend",
    "SlurmBackend",
    "SlurmRunBackend",
    "backend_class",
    "backend_named",
    "declared",
    "make",
    "names",
]
