"""Runs for one user and workspace: submit a notebook as a batch job, follow it, cancel it.
The REST API, `cygnet run` and `cygnet.runs.submit` are faces of this; each gives it the site's
choices as RunSettings (cygnet.runs.settings), never the Cygnet configurable."""

import json
import os
import re
import threading
import time
import uuid
from pathlib import Path

from cygnet.core import contract, scratch
from cygnet.core.atomic import atomic_write
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable
from cygnet.core.identity import current_user
from cygnet.core.paths import confine, free_name
from cygnet.core.proc import tail

from .backends import Job, RunBackend, registry
from .settings import RunSettings
from .store import FINAL, Run, RunStore

# Variables a batch job never gets from the server: logins and secrets of the service itself,
# and the contract's secrets (cygnet.core.contract).
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSW|API_KEY|PRIVATE_KEY|COOKIE", re.I)
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SAVE_GRACE = 3.0  # seconds a save in progress may take before its notebook counts as unreadable


def read_settled(path, read):
    """`read(path)`, read again while Jupyter is saving the file: it writes a notebook in place
    (after a backup copy, `.~<name>`), so a read during a save can find it empty or cut short.
    A failed read is tried once more (a save may have ended in between), then again only while
    a save is seen in progress: a broken file not being saved fails on its second read."""
    path = Path(path)
    deadline = time.monotonic() + SAVE_GRACE
    failures = 0
    while True:
        try:
            return read(path)
        except Exception:
            failures += 1
            try:
                saving = (path.parent / f".~{path.name}").exists() or path.stat().st_size == 0
            except OSError:
                saving = False
            if (failures > 1 and not saving) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def parameter_names(path):
    """The names a notebook's first cell tagged 'parameters' sets, as papermill finds them. A
    Python cell is read here with ast: papermill's own inspection imports its execution engines,
    0.5 s of each `cygnet run` from the command line. Other languages, and cells ast cannot read
    (IPython's magics), are papermill's."""
    import ast

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        metadata = nb.get("metadata") or {}
        language = (metadata.get("language_info") or {}).get("name") or (metadata.get("kernelspec") or {}).get(
            "language", "python"
        )
        cell = next((c for c in nb["cells"] if "parameters" in (c.get("metadata") or {}).get("tags", ())), None)
        if cell is None:
            return []
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tree = ast.parse(source) if language.lower() == "python" else None
    except (AttributeError, KeyError, TypeError, ValueError, SyntaxError):
        tree = None  # not a notebook as ast can read it: papermill says what it is
    if tree is None:
        import papermill  # heavy: only for what ast does not read

        return list(papermill.inspect_notebook(str(path)))
    names = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def parse_value(text):
    """A parameter from the command line (-p name=value): a number, true/false, none, or text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Runs:
    def __init__(self, settings: RunSettings, workspace, owner=None, kernel_specs=None):
        self.settings = settings
        self.workspace = Path(workspace).resolve()
        self.owner = owner or current_user()
        self.dir = Path(settings.data_dir) / "runs"
        self.store = RunStore(self.dir / "runs.db")
        self._kernel_specs = kernel_specs  # the server's, with its kept discovery pass
        self._backends: dict[str, RunBackend] = {}
        self._backends_lock = threading.Lock()

    @property
    def kernel_specs(self):
        """Cygnet's kernel spec manager: the server's when given, else one made once here."""
        if self._kernel_specs is None:
            if self.settings.kernel_specs is None:
                raise Unavailable("runs cannot find kernels here: no kernel spec manager was given")
            self._kernel_specs = self.settings.kernel_specs()
        return self._kernel_specs

    def backend(self, name, option=""):
        """Backend `name`, configured and checked once: BadInput naming the installed backends
        when none has that name (`option`: the setting that named it), or the option set wrong."""
        with self._backends_lock:
            if name not in self._backends:
                self._backends[name] = registry.make(name, self.settings.backend_config, option=option)
            return self._backends[name]

    def check(self):
        """The default backend is installed and takes its settings: called at start, so a
        site's mistake is named there rather than at the first run."""
        self.backend(self.settings.default_backend, option="c.Cygnet.runs_backend")

    # --- submit --------------------------------------------------------------------------
    def check_request(self, notebook, parameters=None, view="", cluster="", backend="", out="", notebook_field=False):
        """The request checked (BadInput, or NotFound naming what is missing): the notebook's path,
        its parameters, view and kernel, the cluster's engine, the backend's name and runner, and
        the output folder. `notebook_field`: a missing notebook is bad input naming the field (a
        schedule for it), not a 404."""
        notebook_path = confine(self.workspace, notebook)
        if notebook_path.suffix != ".ipynb" or not notebook_path.is_file():
            if notebook_field:
                raise BadInput(f"notebook: there is no notebook {notebook} in your workspace")
            raise NotFound(f"no notebook {notebook} in your workspace")
        parameters = self._checked_parameters(notebook_path, parameters or {})
        view_obj, kernel = self._kernel_for(notebook_path, view)
        engine = self._check_cluster(cluster) if cluster else ""
        if backend:
            runner = self.backend(backend)
        else:
            backend = self.settings.default_backend
            runner = self.backend(backend, option="c.Cygnet.runs_backend")
        out_dir = confine(self.workspace, out) if out else notebook_path.parent
        if not out_dir.is_dir():
            raise NotFound(f"no folder {out} in your workspace")
        return notebook_path, parameters, view_obj, kernel, engine, backend, runner, out_dir

    def check_notify(self, spec):
        """`spec` as stored, and a webhook secret made for it to show once ('' if none was made)."""
        from .notify import check_notify

        return check_notify(spec, self.settings.check_url or _no_url_check, self.settings.mail)

    def submit(
        self,
        notebook,
        parameters=None,
        view="",
        cluster="",
        backend="",
        out="",
        notify=None,
        schedule="",
        compare_with="",
    ):
        """Check the request, reserve the output names, start the job; the Run (queued). A
        webhook secret made for `notify` is on the run as `webhook_secret_shown`, to show once."""
        notebook_path, parameters, view_obj, kernel, engine, backend, runner, out_dir = self.check_request(
            notebook, parameters, view, cluster, backend, out
        )
        notify, shown_secret = self.check_notify(notify)

        run_id = uuid.uuid4().hex[:12]
        run_dir = self.dir / run_id
        run_dir.mkdir(parents=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        output = _reserve(out_dir, f"{notebook_path.stem}-run-{stamp}.ipynb")
        html = _reserve(out_dir, f"{output.stem}.html")
        plan = {
            "input": str(notebook_path),
            "output": str(output),
            "html": str(html),
            "parameters": parameters,
            "kernel": kernel,
            "cluster": cluster,
            "engine": engine,
        }
        atomic_write(run_dir / "run.json", json.dumps(plan, indent=2))
        run = Run(
            id=run_id,
            owner=self.owner,
            notebook=notebook_path.relative_to(self.workspace).as_posix(),
            parameters=parameters,
            view=view_obj.name,
            kernel=kernel,
            backend=backend,
            output=output.relative_to(self.workspace).as_posix(),
            html=html.relative_to(self.workspace).as_posix(),
            run_dir=str(run_dir),
            cluster=cluster,
            schedule=schedule,
            notify=notify,
            compare_with=compare_with,
        )
        self.store.add(run)
        try:
            run.job_id = runner.submit(self._job(run))
        except CygnetError as e:
            run.state, run.error, run.ended = "failed", str(e), time.time()
            self.store.save(run)
            e.run_id = run.id  # type: ignore[attr-defined]  # a schedule's firing names the failed run
            raise
        self.store.save(run)
        run.webhook_secret_shown = shown_secret  # type: ignore[attr-defined]
        return run

    def _checked_parameters(self, notebook_path, parameters):
        if not isinstance(parameters, dict):
            raise BadInput("parameters is an object of name: value")
        bad = [name for name in parameters if not isinstance(name, str) or not PARAMETER_NAME.match(name)]
        if bad:
            raise BadInput(f"not a parameter name: {bad[0]!r}")
        if not parameters:
            return {}
        try:
            known = read_settled(notebook_path, parameter_names)
        except Exception as e:  # noqa: BLE001 - a notebook papermill cannot read is bad input
            raise BadInput(f"{notebook_path.name} cannot be read as a notebook: {e}") from e
        if not known:
            raise BadInput(f"{notebook_path.name} has no cell tagged 'parameters', so it takes no parameters")
        unknown = sorted(set(parameters) - set(known))
        if unknown:
            raise BadInput(
                f"{notebook_path.name} has no parameter {', '.join(unknown)} (its parameters: {', '.join(known)})"
            )
        return parameters

    def _kernel_for(self, notebook_path, view_name):
        """The view and kernel a run uses: the notebook's own kernel when it is one of the view's
        (an R notebook on the view's R), else the view's Python."""
        from cygnet.kernels.specs import kernel_name
        from cygnet.views import pick_default_view

        ksm = self.kernel_specs
        views = ksm.views()
        if view_name:
            view = next((v for v in views if v.name == view_name), None)
            if view is None:
                raise NotFound(f"no view {view_name} (usable views: {', '.join(v.name for v in views if v.usable)})")
        else:
            view = pick_default_view(views, self.settings.default_view)
            if view is None:
                raise Unavailable("there is no usable view to run the notebook in")
        if not view.usable:
            raise Unavailable(f"view {view.name} cannot run kernels: {view.reason}")
        try:
            wanted = read_settled(notebook_path, lambda p: json.loads(p.read_text()))["metadata"]["kernelspec"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            wanted = ""
        entry = ksm.catalogue().get(str(wanted).lower())
        if entry and entry[0].name == view.name and entry[1] is not None and entry[1].usable:
            return view, wanted.lower()
        return view, kernel_name(view)

    def _check_cluster(self, cluster):
        from cygnet.compute.catalogue import load_catalogue

        catalogue = load_catalogue(self.settings.clusters_file or None)
        if cluster not in catalogue.names():
            raise NotFound(f"no Spark or Dask cluster {cluster!r} (clusters: {', '.join(catalogue.names())})")
        return catalogue.cluster(cluster).engine

    def _job(self, run):
        env = {k: v for k, v in os.environ.items() if not (SECRET_NAMES.search(k) or k in contract.SECRETS)}
        # The job finds the same views and keeps its state where the server does.
        env[contract.VIEWS_PATH.name] = ":".join(self.settings.views_roots)
        env[contract.DATA_DIR.name] = self.settings.data_dir
        # A scratch of the run's own: it outlives the session's, which goes when the session ends.
        env.update(scratch.private_scratch(os.path.join(run.run_dir, "scratch"), env))
        return Job(run_id=run.id, run_dir=run.run_dir, workdir=str(self.workspace), env=env, kernel=run.kernel)

    def form(self, notebook):
        """What the 'Run as batch job' dialog offers for `notebook`: its parameters (name ->
        default as written, type, help), the usable views, the Spark clusters, the backends."""
        import papermill

        from cygnet.compute.catalogue import load_catalogue
        from cygnet.views import pick_default_view

        path = confine(self.workspace, notebook)
        if path.suffix != ".ipynb" or not path.is_file():
            raise NotFound(f"no notebook {notebook} in your workspace")
        try:
            parameters = read_settled(path, lambda p: papermill.inspect_notebook(str(p)))
        except Exception as e:  # noqa: BLE001 - a notebook papermill cannot read is bad input
            raise BadInput(f"{path.name} cannot be read as a notebook: {e}") from e
        views = self.kernel_specs.views()
        default = pick_default_view(views, self.settings.default_view)
        return {
            "parameters": [
                {"name": p["name"], "default": p["default"], "type": p["inferred_type_name"], "help": p["help"]}
                for p in parameters.values()
            ],
            "views": [v.name for v in views if v.usable],
            "default_view": default.name if default else "",
            "clusters": [c.name for c in load_catalogue(self.settings.clusters_file or None).clusters],
            "backends": registry.names(),
            "default_backend": self.settings.default_backend,
        }

    # --- follow ----------------------------------------------------------------------------
    def get(self, run_id):
        return self._refresh(self.store.get(run_id, self.owner))

    def list(self):
        return [self._refresh(run) for run in self.store.list(self.owner)]

    def log_tail(self, run, lines=20):
        try:
            return tail((Path(run.run_dir) / "job.log").read_bytes()[-65536:], lines)
        except OSError:
            return ""

    def cancel(self, run_id):
        run = self.get(run_id)
        if run.state in FINAL:
            raise BadInput(f"run {run.id} has already ended ({run.state}); there is nothing to cancel")
        self.backend(run.backend).cancel(run.job_id, run.run_dir)
        run.state, run.ended = "cancelled", time.time()
        run.error = "cancelled by its owner"
        self.store.save(run)
        return run

    # --- compare -------------------------------------------------------------------------------
    def compare(self, run_a, run_b, tolerance=None):
        """Two ended runs' results cell by cell (cygnet.runs.compare), with their parameters,
        views and durations: {a, b, cells, verdict, counts, tolerance}."""
        from .compare import Tolerance, compare_notebooks, summary

        tolerance = tolerance or Tolerance()
        runs = [self.get(run_id) for run_id in (run_a, run_b)]
        for run in runs:
            if run.state not in FINAL:
                raise BadInput(f"run {run.id} has not ended yet ({run.state}); compare it once it has")
        cells = compare_notebooks(*(self._result(run) for run in runs), tolerance)
        verdict, counts = summary(cells)
        return {
            "a": _compared(runs[0]),
            "b": _compared(runs[1]),
            "cells": cells,
            "verdict": verdict,
            "counts": counts,
            "tolerance": {"rel_tol": tolerance.rel, "abs_tol": tolerance.abs},
        }

    def check_views(self, notebook, views, parameters=None, cluster="", backend="", notify=None, schedule=""):
        """The same notebook with the same parameters on each of two views (an old release and a
        new one), to compare once both end; the two runs. The second names the first
        (`compare_with`) and alone tells `notify`, with the comparison in what it tells."""
        if not isinstance(views, list | tuple) or len(views) != 2 or not all(isinstance(v, str) and v for v in views):
            raise BadInput("views: two views to compare, the old and the new, e.g. ['LCG_106/x86_64-el9', ...]")
        if views[0] == views[1]:
            raise BadInput("views: the two views are the same; name two different ones")
        for view in views:  # both are checked before either run starts
            self.check_request(notebook, parameters, view, cluster, backend)
        old = self.submit(notebook, parameters, views[0], cluster, backend, schedule=schedule)
        new = self.submit(
            notebook, parameters, views[1], cluster, backend, notify=notify, schedule=schedule, compare_with=old.id
        )
        return [old, new]

    def usable_views(self):
        """The names of the views runs can use now (looked for again, so a new one is seen)."""
        return [v.name for v in self.kernel_specs.views(fresh=True) if v.usable]

    def comparison_of(self, run):
        """For a run checking another view: the comparison once both have ended (None while the
        other still runs); {} for other runs."""
        if not run.compare_with:
            return {}
        try:
            other = self.get(run.compare_with)
        except NotFound:
            gone = {"against": run.compare_with, "views": ["(gone)", run.view], "verdict": "unknown"}
            return {**gone, "error": "the run it is compared with is gone"}
        if other.state not in FINAL:
            return None
        try:
            report = self.compare(other.id, run.id)
        except CygnetError as e:
            return {"against": other.id, "views": [other.view, run.view], "verdict": "unknown", "error": str(e)}
        changed = [c for c in report["cells"] if c["verdict"] != "same"]
        return {
            "against": other.id,
            "views": [other.view, run.view],
            "verdict": report["verdict"],
            "counts": report["counts"],
            "cells": changed[:20],
        }

    def _result(self, run):
        try:
            return json.loads(confine(self.workspace, run.output).read_text())
        except FileNotFoundError:
            raise NotFound(f"run {run.id}'s result {run.output} is gone (moved or deleted)") from None
        except (OSError, ValueError) as e:
            raise BadInput(f"run {run.id}'s result {run.output} cannot be read as a notebook: {e}") from None

    def _refresh(self, run):
        """The run's state from its backend and its own status.json."""
        if run.state in FINAL or not run.job_id:
            return run
        try:
            where = self.backend(run.backend).state(run.job_id, run.run_dir)
        except (Unavailable, BadInput) as e:
            run.error = f"its state is unknown for now: {e}"
            return run  # the scheduler is down (or its backend gone): the run is not lost, only not seen
        status = _read_status(run.run_dir)
        before = (run.state, run.cells_done, run.cells_total, run.started, run.ended, run.error)
        run.cells_done = status.get("cells_done", run.cells_done)
        run.cells_total = status.get("cells_total", run.cells_total)
        run.started = status.get("started", run.started)
        run.error = ""
        if status.get("state") in ("succeeded", "failed"):  # its last word: the process may still be exiting
            run.state, run.ended, run.error = status["state"], status.get("ended"), status.get("error", "")
        elif where == "queued":
            run.state = "queued"
        elif where == "running":
            run.state = "running" if status.get("state") else "queued"
        else:
            run.state, run.ended = "failed", time.time()
            run.error = f"the job ended without finishing; its log: {self.log_tail(run, 5) or 'empty'}"
        if (run.state, run.cells_done, run.cells_total, run.started, run.ended, run.error) != before:
            self.store.save(run)
        return run


def _compared(run):
    """What a comparison says of each run beside its cells."""
    duration = run.ended - run.started if run.ended and run.started else None
    keys = ("id", "notebook", "output", "html", "view", "parameters", "backend", "state", "schedule", "error")
    return {**{key: getattr(run, key) for key in keys}, "duration_seconds": duration}


def _no_url_check(url):
    raise BadInput("webhooks are not enabled here")


def _read_status(run_dir):
    try:
        return json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _reserve(folder, name):
    """A new file in `folder` named `name` or name-1, ...: created here, so no other run (or
    anything else) can take the name, and nothing is ever overwritten."""
    while True:
        path = Path(folder) / free_name(folder, name)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except FileExistsError:
            continue
