"""Warm jobs for local runs. When a `--on local` run of a Python notebook ends, a spare job
starts for the next run of the same kernel: a process with papermill imported and the view's
kernel started and answering, waiting on a Unix socket. The next local run of that kernel, from
the same environment, is handed to it, and pays neither a Python start nor a kernel boot
(`python -m cygnet.runs.warm RUNS_DIR KERNEL`).

A spare holds no user state: it runs one notebook, on a kernel no code has run in (started in
the workspace and moved into the notebook's folder at the hand-over, as the kernel pool does).
It refuses a run, and exits, when its kernel died, when the view's environment or Cygnet's code
changed since it started, or when the run is not one of its account's; a run from another
environment does not find it (the socket's name carries a digest of the environment). It exits
after `CYGNET_RUN_WARM_IDLE` seconds without a run (c.LocalRunBackend.warm_idle; 0: no spares).
There is at most one spare per kernel: a new one retires those before it.

The sockets are in <data_dir>/runs/warm, a 0700 folder of the account, and a spare answers its
own account only (SO_PEERCRED). Socket paths are reached through /proc/self/fd, since a data
dir's path can be longer than a socket's 108 bytes allow."""

import contextlib
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from cygnet.core import contract, scratch

FOLDER = "warm"  # in the runs folder
CLAIM_FILE = "claimed-by"  # in a run's folder: the pid and start of the spare that runs it
CLAIM_TIMEOUT = 5.0  # seconds a hand-over may take before the run starts cold
START_TIMEOUT = 120.0  # seconds a spare's kernel may take to answer
MARKER_GRACE = 10.0  # seconds between a start's marker and the spare's pid in it, at most
LOG_LIMIT = 1 << 20  # bytes of the spares' shared log before it starts again
# What private_scratch sets: a spare has a scratch of its own, so these never tell runs apart.
SCRATCH_NAMES = frozenset(
    {contract.SCRATCH.name, "TMPDIR", "SPARK_LOCAL_DIRS", "SPARK_SUBMIT_OPTS", "DASK_TEMPORARY_DIRECTORY"}
)
# Set by shells and by the backend, different from one command to the next of the same session.
VOLATILE = frozenset({"PWD", "OLDPWD", "SHLVL", "_", contract.RUN_WARM_IDLE.name})
JAVA_TMP = "-Djava.io.tmpdir="


def without_scratch(env):
    """`env` without a run's scratch: its folders, and the java.io.tmpdir private_scratch added
    to SPARK_SUBMIT_OPTS (what else a site put there stays)."""
    base = {k: v for k, v in env.items() if k not in SCRATCH_NAMES}
    opts = " ".join(word for word in env.get("SPARK_SUBMIT_OPTS", "").split() if not word.startswith(JAVA_TMP))
    if opts:
        base["SPARK_SUBMIT_OPTS"] = opts
    return base


def socket_name(kernel, env):
    """The socket of a spare of `kernel` started in `env`: the kernel's digest (what a new spare
    retires), then the environment's."""
    stable = sorted((k, v) for k, v in without_scratch(env).items() if k not in VOLATILE)
    environment = json.dumps([kernel, sys.executable, stable])
    return f"{_digest(kernel)[:8]}-{_digest(environment)[:24]}.sock"


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def folder_of(runs_dir):
    """The spares' folder, made 0700; OSError if it is not this account's own."""
    folder = Path(runs_dir) / FOLDER
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if not os.path.stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} is not a private folder of this account")
    return folder


@contextlib.contextmanager
def _short(folder):
    """A short path to `folder` for socket calls (see the module's note)."""
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\n")


def _receive(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk or len(data) > 65536:
            raise ValueError("no answer")
        data += chunk
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message


def _ask(folder, name, message):
    """A spare's answer to `message`; OSError or ValueError when none answers."""
    with _short(folder) as short, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(CLAIM_TIMEOUT)
        conn.connect(f"{short}/{name}")
        _send(conn, message)
        return _receive(conn)


# --- the local backend's side ---------------------------------------------------------------------
def claim(job):
    """Hand `job` to a waiting spare of its kernel: the spare's pid (the job's id), or None, and
    the job starts as a new process."""
    if not job.kernel:
        return None
    folder = Path(job.run_dir).parent / FOLDER
    name = socket_name(job.kernel, job.env)
    if not (folder / name).exists():
        return None
    try:
        reply = _ask(folder, name, {"run_dir": job.run_dir})
    except (OSError, ValueError):
        return None
    pid = reply.get("pid")
    return str(pid) if isinstance(pid, int) else None


def runs_it(pid, run_dir):
    """Whether process `pid` is the spare that took the run in `run_dir` (pids are reused)."""
    from cygnet.core.proc import process_start

    try:
        claimed = (Path(run_dir) / CLAIM_FILE).read_text().split()
    except OSError:
        return False
    return claimed == [str(pid), str(process_start(pid))]


# --- the job's side, at the end of a run ------------------------------------------------------------
def idle_seconds():
    try:
        return float(contract.RUN_WARM_IDLE.get())
    except ValueError:
        return 0.0


def can_run(kernel):
    """Whether a spare can take runs of `kernel` (a started KernelManager): a view's Python,
    which can be moved into a notebook's folder and whose environment can be compared."""
    try:
        spec = kernel.kernel_spec
    except Exception:  # noqa: BLE001 - a kernel that did not start is no spare's
        return False
    return (
        spec is not None
        and spec.language.lower() == "python"
        and hasattr(kernel.provisioner, "environment_for")
        and getattr(kernel.provisioner, "launched_env", None) is not None
    )


def start_spare(runs_dir, kernel_name, workdir):
    """Start a spare for the next run of `kernel_name`, in `workdir`, unless one is waiting or
    starting, or spares are off. Never raises: a run that finds no spare starts as before."""
    from cygnet.core.proc import process_start

    if idle_seconds() <= 0:
        return
    try:
        folder = folder_of(runs_dir)
        name = socket_name(kernel_name, os.environ)
        with contextlib.suppress(OSError, ValueError):
            if _ask(folder, name, {"ping": True}).get("ok"):
                return
        if not _reserve(folder / f"{name}.starting"):
            return
        log = folder / "spares.log"
        with open(log, "ab") as out:
            if out.tell() > LOG_LIMIT:
                out.truncate(0)
            spare = subprocess.Popen(
                [sys.executable, "-m", "cygnet.runs.warm", str(runs_dir), kernel_name],
                cwd=workdir,
                env=os.environ,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this job, its own process group for a cancel
            )
        with contextlib.suppress(FileNotFoundError):  # gone: the spare is up already
            with open(os.open(folder / f"{name}.starting", os.O_WRONLY), "w") as marker:
                marker.write(f"{spare.pid} {process_start(spare.pid)}\n")
    except Exception as e:  # noqa: BLE001 - the run is done; the next one starts cold
        print(f"cygnet: no warm job for the next run: {e}", file=sys.stderr)


def _reserve(marker):
    """Take the right to start a spare: a file made exclusively, which then names the spare
    (a start that died, killed or crashed, leaves one that no longer counts)."""
    for _ in range(2):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            if _still_starting(marker):
                return False
            marker.unlink(missing_ok=True)
    return False


def _still_starting(marker):
    from cygnet.core.proc import process_start

    try:
        words, age = marker.read_text().split(), time.time() - marker.stat().st_mtime
    except OSError:
        return False
    if len(words) == 2 and words[0].isdigit():
        return process_start(int(words[0])) == words[1]
    return age < MARKER_GRACE  # made, and its spare not yet named in it


# --- the spare ----------------------------------------------------------------------------------------
class Spare:
    """A started kernel waiting for a run, and the socket it waits on."""

    def __init__(self, runs_dir, kernel_name):
        self.runs_dir = Path(runs_dir).resolve()
        self.kernel_name = kernel_name
        self.folder = folder_of(self.runs_dir)
        self.name = socket_name(kernel_name, os.environ)
        self.code = _code_stamp()
        self.kernel = None
        self.listener = None
        self.inode = None

    def start(self):
        """Its own scratch, its kernel (answering), papermill imported, then its socket."""
        from cygnet.core.proc import pass_niceness_on

        from .execute import import_in_background, kernel_manager_class

        pass_niceness_on(os.getpid())  # a session of its own: its group runs as nice as the job before
        base = without_scratch(os.environ)
        os.environ.clear()
        os.environ.update(base)
        scratches = self.folder / "scratch"
        scratch.sweep(str(scratches))  # of spares killed (a cancelled warm run's)
        os.environ.update(scratch.private_scratch(str(scratches / str(os.getpid())), os.environ))
        import_in_background("nbconvert")
        self.kernel = kernel_manager_class()(kernel_name=self.kernel_name)
        self.kernel.start_kernel(cwd=os.getcwd())
        import papermill  # noqa: F401 - what the run would import first
        from papermill.engines import NBClientEngine  # noqa: F401

        client = self.kernel.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=START_TIMEOUT)
        finally:
            client.stop_channels()
        if not can_run(self.kernel):
            raise RuntimeError(f"kernel {self.kernel_name} cannot be a warm job's")
        self._listen()

    def _listen(self):
        with _short(self.folder) as short:
            temporary = f".{os.getpid()}.sock"
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(f"{short}/{temporary}")
            self.listener.listen(8)
            self.inode = os.stat(self.folder / temporary).st_ino
            for other in self.folder.glob(f"{self.name[:8]}-*.sock"):  # the spares before it, of this kernel
                try:
                    _ask(self.folder, other.name, {"retire": True})
                except (OSError, ValueError):
                    other.unlink(missing_ok=True)  # its spare is gone
            os.rename(self.folder / temporary, self.folder / self.name)

    def wait(self, idle):
        """The run dir handed over, or None when none came within `idle` seconds or the spare
        was retired or cannot run what it was given."""
        deadline = time.monotonic() + idle
        while (remaining := deadline - time.monotonic()) > 0:
            self.listener.settimeout(remaining)
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                return None
            with conn:
                conn.settimeout(CLAIM_TIMEOUT)
                try:
                    if _peer_uid(conn) != os.getuid():
                        continue
                    request = _receive(conn)
                    if request.get("ping"):
                        _send(conn, {"ok": True})
                        continue
                    if request.get("retire"):
                        _send(conn, {"ok": True})
                        return None
                    run_dir = self._checked(request.get("run_dir"))
                except (OSError, ValueError) as e:
                    with contextlib.suppress(OSError):
                        _send(conn, {"error": str(e)})
                    continue
                except LookupError as e:  # the spare itself is of no use
                    with contextlib.suppress(OSError):
                        _send(conn, {"error": str(e)})
                    return None
                self.close()  # no one else finds it
                (run_dir / CLAIM_FILE).write_text(f"{os.getpid()} {_own_start()}\n")
                try:
                    _send(conn, {"pid": os.getpid()})
                except OSError:
                    (run_dir / CLAIM_FILE).unlink(missing_ok=True)
                    return None  # the run started cold meanwhile
                return run_dir
        return None

    def _checked(self, run_dir):
        """The run's folder if it is a new run of this account's for this kernel (ValueError if
        not); LookupError when this spare must not run anything."""
        if not isinstance(run_dir, str):
            raise ValueError("no run")
        path = Path(run_dir).resolve()
        if path.parent != self.runs_dir or (path / "status.json").exists() or (path / CLAIM_FILE).exists():
            raise ValueError(f"not a new run: {run_dir}")
        plan = json.loads((path / "run.json").read_text())
        if plan.get("kernel") != self.kernel_name:
            raise ValueError(f"run of kernel {plan.get('kernel')}, not {self.kernel_name}")
        if not self.kernel.is_alive():
            raise LookupError("its kernel died")
        if _code_stamp() != self.code:
            raise LookupError("Cygnet's code changed since it started")
        from cygnet.kernels.provisioner import stable_environment

        provisioner = self.kernel.provisioner
        try:
            now = provisioner.environment_for(os.environ)
        except Exception as e:  # noqa: BLE001 - a view that cannot start kernels now runs nothing warm
            raise LookupError(f"its view cannot start kernels now: {e}") from e
        if stable_environment(now) != stable_environment(provisioner.launched_env):
            raise LookupError("the view's environment changed since it started")
        return path

    def close(self):
        """Stop answering: the socket goes, unless a newer spare took its name."""
        if self.listener is None:
            return
        self.listener.close()
        self.listener = None
        path = self.folder / self.name
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == self.inode:
                path.unlink()

    def stop(self):
        self.close()
        if self.kernel is not None and self.kernel.has_kernel:
            self.kernel.shutdown_kernel(now=True)
        scratch.remove(contract.SCRATCH.get())


def _peer_uid(conn):
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def _own_start():
    from cygnet.core.proc import process_start

    return process_start(os.getpid())


def _code_stamp():
    """When the modules a run uses were last changed: an upgrade retires the spares of before."""
    from cygnet.kernels import provisioner

    from . import execute

    return [os.stat(module.__file__).st_mtime_ns for module in (execute, provisioner, sys.modules[__name__])]


def main(runs_dir, kernel_name):
    from cygnet.core.imports import skip_slow_optional_imports

    from .execute import main as run

    skip_slow_optional_imports()
    spare = Spare(runs_dir, kernel_name)
    try:
        spare.start()
    except Exception as e:  # noqa: BLE001 - said in the spares' log; the next run starts cold
        print(f"cygnet: warm job for {kernel_name} not started: {type(e).__name__}: {e}", file=sys.stderr)
        spare.stop()
        return 1
    finally:
        (spare.folder / f"{spare.name}.starting").unlink(missing_ok=True)
    run_dir = spare.wait(idle_seconds())
    if run_dir is None:
        spare.stop()
        return 0
    with open(run_dir / "job.log", "ab") as log:  # the run's log from here on, as a new job's would be
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    scratch.remove(str(run_dir / "scratch"))  # made for a new job; this one keeps the spare's
    return run(run_dir, kernel=spare.kernel)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
