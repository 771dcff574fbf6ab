"""Batch runs: a notebook executed non-interactively with parameters (papermill's conventions),
on a view's kernel, by a backend (a local process, Slurm, HTCondor, Kubernetes, or a site's own:
see cygnet.runs.backends), with a record that follows it across server restarts.

    import cygnet.runs
    run = cygnet.runs.submit("analysis.ipynb", parameters={"year": 2024}, backend="slurm")
    cygnet.runs.get(run.id).state
"""

import os


def _runs(workspace=None):
    from cygnet.core import contract

    from . import settings
    from .service import Runs

    return Runs(settings.load(), workspace or contract.WORKSPACE.get() or os.getcwd())


def submit(notebook, parameters=None, view="", cluster="", backend="", out="", workspace=None):
    """Submit `notebook` (a path in the workspace) as a batch job; returns its Run (queued)."""
    return _runs(workspace).submit(notebook, parameters, view, cluster, backend, out)


def get(run_id, workspace=None):
    return _runs(workspace).get(run_id)


def list_runs(workspace=None):
    return _runs(workspace).list()


def cancel(run_id, workspace=None):
    return _runs(workspace).cancel(run_id)
