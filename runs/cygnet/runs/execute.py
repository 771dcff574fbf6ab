"""The batch job itself: `python -m cygnet.runs.execute RUN_DIR`, run by whatever backend (a
detached process, a Slurm job, an HTCondor job, a Kubernetes pod) on a machine that sees the
workspace and the views at the same paths.

It executes the notebook with papermill (its `parameters` cell conventions and engine) on the
view's kernel through Cygnet's kernel spec manager, so the kernel has the same environment as
interactive work, and writes `status.json` (state, cells done of total, error) as it goes. The
executed notebook is saved after every cell, so a failing run keeps its partial output with the
failing cell's error; an HTML rendering follows.
"""

import json
import os
import sys
import time
from pathlib import Path

from cygnet.core import contract, scratch
from cygnet.core.atomic import atomic_write
from cygnet.core.imports import skip_slow_optional_imports

from . import warm

SPARK_CELL_TAG = "cygnet-spark"


def write_status(run_dir, **status):
    path = Path(run_dir) / "status.json"
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = {}
    current.update(status)
    atomic_write(path, json.dumps(current))


def prepared_notebook(plan, run_dir):
    """The input with a first cell connecting Spark (or Dask) when the run names a cluster."""
    import nbformat

    nb = nbformat.read(plan["input"], as_version=4)
    if plan.get("cluster"):
        magic = "dask" if plan.get("engine") == "dask" else "spark"
        cell = nbformat.v4.new_code_cell(f"%{magic} connect --cluster {plan['cluster']}")
        cell.metadata["tags"] = [SPARK_CELL_TAG]
        nb.cells.insert(0, cell)
    path = Path(run_dir) / "input.ipynb"
    nbformat.write(nb, str(path))
    injected = 1 if plan.get("parameters") else 0  # papermill adds a cell with the parameters
    return path, injected + sum(1 for c in nb.cells if c.cell_type == "code")


def kernel_manager_class():
    """jupyter_client's KernelManager with Cygnet's kernel spec manager: view kernels start
    through the cygnet-view provisioner, as they do under the Jupyter server."""
    from jupyter_client import KernelManager
    from jupyter_client.blocking import BlockingKernelClient
    from traitlets import default

    from cygnet.core.config import load_config
    from cygnet.kernels.specs import CygnetKernelSpecManager

    config = load_config()

    class RunKernelClient(BlockingKernelClient):
        def start_channels(self, *args, **kwargs):
            if not self.channels_running:  # a warm run's client comes started (see move_kernel)
                super().start_channels(*args, **kwargs)

        def wait_for_ready(self, timeout=None):
            """Ready when the kernel answers a kernel_info request on shell and IOPub. Unlike
            jupyter_client's, it does not then wait for 0.2 s of silence on IOPub to drop old
            messages: nbclient reads only what answers its own requests, and 0.2 s is a third
            of a short run on a warm kernel."""
            timeout = 60.0 if timeout is None else timeout
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                asked = self.kernel_info()
                reply = _answer(self.shell_channel, asked, 1.0)
                if reply is not None and _answer(self.iopub_channel, asked, 0.2) is not None:
                    self._handle_kernel_info_reply(reply)
                    return
                if not self.is_alive():
                    raise RuntimeError("the kernel died before it answered")
            raise RuntimeError(f"the kernel did not answer within {timeout} s")

    class RunKernelManager(KernelManager):
        connected_client = None  # handed out by the next client() (see move_kernel)

        def __init__(self, **kwargs):
            kwargs.setdefault("kernel_spec_manager", CygnetKernelSpecManager(cygnet=config))
            super().__init__(**kwargs)

        @default("client_factory")
        def _client_factory_default(self):
            return RunKernelClient

        def client(self, **kwargs):
            client, self.connected_client = self.connected_client, None
            return client if client is not None and not kwargs else super().client(**kwargs)

    return RunKernelManager


def _answer(channel, msg_id, wait):
    """The first message on `channel` answering request `msg_id` within `wait` seconds, or None."""
    from queue import Empty

    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        try:
            msg = channel.get_msg(timeout=left)
        except Empty:
            return None
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg
    return None


def main(run_dir, kernel=None):
    """Run the notebook of `run_dir`; `kernel` is a warm job's, started and answering
    (cygnet.runs.warm), else the view's kernel starts here."""
    skip_slow_optional_imports()
    run_dir = Path(run_dir)
    plan = json.loads((run_dir / "run.json").read_text())
    workdir = os.getcwd()  # the workspace: papermill moves into the notebook's folder
    write_status(run_dir, state="running", started=time.time(), pid=os.getpid())
    # The kernel boots while papermill and nbclient are imported here (most of a short run's time,
    # on a second core): papermill is then given the started kernel.
    error, folder = "", str(Path(plan["input"]).parent)
    try:
        if kernel is None:
            kernel = kernel_manager_class()(kernel_name=plan["kernel"])
            kernel.start_kernel(cwd=folder)
        else:
            move_kernel(kernel, folder)
        error = execute(plan, run_dir, kernel)
    except Exception as e:  # noqa: BLE001 - the run's record must say what stopped it
        error = f"{type(e).__name__}: {e}"
    finally:
        stopping = _stop_in_background(kernel)
    render_html(plan)  # while the kernel stops: each takes a tenth of a second or more
    stopping.join()
    scratch.remove(contract.SCRATCH.get())  # the run's own (see Runs._job)
    write_status(run_dir, state="failed" if error else "succeeded", ended=time.time(), error=error)
    if kernel is not None and warm.can_run(kernel):
        warm.start_spare(run_dir.parent, plan["kernel"], workdir)  # for the next run, after this one's end
    return 1 if error else 0


def move_kernel(kernel, folder):
    """Move a warm job's kernel into the notebook's folder, leaving no trace in its history. The
    connected client is the one the run then uses: a new client's IOPub subscription can still
    be on its way when the kernel first answers, and its wait for the kernel then asks again
    after 0.2 s, a third of a warm run."""
    client = kernel.client()
    client.start_channels()
    try:
        code = f"__import__('os').chdir({folder!r})"
        reply = client.execute(code, silent=True, store_history=False, reply=True, timeout=30)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(reply["content"].get("evalue") or "the warm kernel did not change folder")
    except BaseException:
        client.stop_channels()
        raise
    kernel.connected_client = client


def import_in_background(module):
    """Start importing `module` in a thread: the job's own thread mostly waits on its kernel
    while cells run, and the HTML rendering after them began with 0.15 s of nbconvert's imports."""
    import importlib
    import threading

    def load():
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001, S110 - imported again, and its error reported, where it is used
            pass

    threading.Thread(target=load, daemon=True, name=f"cygnet-import-{module}").start()


def _stop_in_background(kernel):
    """A started thread stopping `kernel` (if it is running); join it before the process ends."""
    import threading

    def stop():
        if kernel is not None and kernel.has_kernel:
            kernel.shutdown_kernel(now=True)

    stopping = threading.Thread(target=stop, name="cygnet-kernel-stop")
    stopping.start()
    return stopping


def execute(plan, run_dir, kernel):
    """Run the notebook on the started `kernel` with papermill; the error, or ''."""
    import papermill
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.exceptions import PapermillExecutionError

    done = [0]

    class CygnetEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            complete = nb_man.cell_complete

            def cell_complete(cell, cell_index=None, **kw):
                complete(cell, cell_index=cell_index, **kw)
                done[0] += 1
                write_status(run_dir, cells_done=done[0])

            nb_man.cell_complete = cell_complete
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("cygnet", CygnetEngine)
    source, total = prepared_notebook(plan, run_dir)
    write_status(run_dir, cells_total=total)
    import_in_background("nbconvert")  # for the HTML at the end, while this process waits on the kernel
    try:
        papermill.execute_notebook(
            str(source),
            plan["output"],
            parameters=plan["parameters"],
            kernel_name=plan["kernel"],
            engine_name="cygnet",
            progress_bar=False,
            cwd=str(Path(plan["input"]).parent),
            start_timeout=plan.get("start_timeout", 120),
            km=kernel,
        )
    except PapermillExecutionError as e:
        return f"cell {e.exec_count or e.cell_index}: {e.ename}: {e.evalue}"
    return ""


def render_html(plan):
    """The executed notebook as HTML beside it (what there is of it, after a failure too)."""
    if not os.path.exists(plan["output"]):
        return
    try:
        from cygnet.core.html_export import html_exporter

        body, _ = html_exporter().from_filename(plan["output"])
        atomic_write(plan["html"], body)
    except Exception as e:  # noqa: BLE001 - the notebook is the result; HTML is a convenience
        print(f"cygnet: no HTML rendering: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
