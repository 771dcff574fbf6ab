"""dask-gateway's backends as Cygnet runs them, each user's scheduler and workers as their own
Unix account:

- `UserLocalBackend`: processes on the hub's machine (LocalBackend), with the cluster's working
  folder handed to the user safely;
- `UserSlurmBackend`: Slurm jobs of the user (SlurmBackend), submitted without sudo.

Both keep the scheduler's and workers' temporary files in the cluster's private folder rather
than in a /tmp/dask-scratch-space-<uid> that Dask would make readable by every account.

Why: dask-gateway-server 2026.3.0's `LocalBackend.setup_working_directory` adds each TLS file's
path to its list with `list.extend(path)`, which adds the path's *characters*: it then chowns
"/" (the first character) to the user, and fails on the next one. A hub running as root would
give the first user who starts a cluster the machine's root folder. This backend makes the
same folders and files and chowns exactly those.
"""

import asyncio
import grp
import json
import os
import pwd
import shlex
import shutil
import sys
import tempfile

from dask_gateway_server.backends.jobqueue.slurm import SlurmBackend
from dask_gateway_server.backends.local import LocalBackend
from traitlets import default


class UserLocalBackend(LocalBackend):
    def setup_working_directory(self, cluster):
        if self.clusters_directory:
            workdir = os.path.join(self.clusters_directory, cluster.name)
        else:  # private to root until chowned: mkdtemp makes it 0700
            workdir = tempfile.mkdtemp(prefix="dask", suffix=cluster.name)
        folders = [
            workdir,
            self.get_certs_directory(workdir),
            self.get_logs_directory(workdir),
            _scratch(workdir),
        ]
        for folder in folders:
            os.makedirs(folder, 0o700, exist_ok=True)
        cert_path, key_path = self._get_tls_paths(workdir)
        for path, data in ((cert_path, cluster.tls_cert), (key_path, cluster.tls_key)):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(data)
        self.set_file_permissions([*folders, cert_path, key_path], cluster.username)
        return workdir

    def get_env(self, cluster):
        env = super().get_env(cluster)
        workdir = (cluster.state or {}).get("workdir")
        if workdir:
            env["TMPDIR"] = env["DASK_TEMPORARY_DIRECTORY"] = _scratch(workdir)
        return env


def _scratch(workdir):
    return os.path.join(workdir, "tmp")


class UserSlurmBackend(SlurmBackend):
    """Schedulers and workers as Slurm jobs of the user.

    Why not SlurmBackend as it is: it submits through `sudo -nHu <user>
    dask-gateway-jobqueue-launcher`, which needs sudo and a sudoers rule for the gateway's account.
    The gateway runs as root here (as the hub does with per-user accounts), so it starts the same
    launcher as the user itself. It also joins the scheduler's and workers' commands with spaces
    into the job script, which breaks a view's `bash -c '<script>'` command: each word is quoted.
    The Slurm tools find their cluster through the gateway's own $SLURM_CONF when one is set."""

    @default("dask_gateway_jobqueue_launcher")
    def _launcher_beside_the_gateway(self):  # the service's environment need not be on PATH
        beside = os.path.join(os.path.dirname(sys.executable), "dask-gateway-jobqueue-launcher")
        return beside if os.path.exists(beside) else shutil.which("dask-gateway-jobqueue-launcher") or beside

    async def do_as_user(self, user, action, **kwargs):
        account = pwd.getpwnam(user)
        groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
        env = {"HOME": account.pw_dir, "USER": user, "LOGNAME": user, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        proc = await asyncio.create_subprocess_exec(
            self.dask_gateway_jobqueue_launcher,
            env=env,
            cwd=account.pw_dir,
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=groups,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await proc.communicate(json.dumps({**kwargs, "action": action}).encode())
        stdout, stderr = stdout.decode("utf8", "replace"), stderr.decode("utf8", "replace")
        if proc.returncode != 0:
            raise Exception(f"dask-gateway-jobqueue-launcher failed for {user} ({proc.returncode}): {stderr[-2000:]}")
        result = json.loads(stdout)
        if not result["ok"]:
            raise Exception(result["error"])
        return result["returncode"], result["stdout"], result["stderr"]

    def get_scheduler_command(self, cluster):
        return [shlex.quote(part) for part in super().get_scheduler_command(cluster)]

    def get_worker_command(self, cluster, worker_name, scheduler_address=None):
        return [shlex.quote(part) for part in super().get_worker_command(cluster, worker_name, scheduler_address)]

    def get_env(self, cluster):
        env = super().get_env(cluster)
        # The job's temporary files in its private staging folder (0700, the user's, removed with
        # the cluster), and the Slurm tools (sbatch runs with exactly this environment) told
        # where their cluster is.
        env["TMPDIR"] = env["DASK_TEMPORARY_DIRECTORY"] = self.get_staging_directory(cluster)
        return {**env, **_slurm_conf()}

    def get_stop_cmd_env(self, job_id):
        cmd, env = super().get_stop_cmd_env(job_id)
        return cmd, {**env, **_slurm_conf()}

    def get_status_cmd_env(self, job_ids):
        cmd, env = super().get_status_cmd_env(job_ids)
        return cmd, {**env, **_slurm_conf()}


def _slurm_conf():
    return {"SLURM_CONF": os.environ["SLURM_CONF"]} if os.environ.get("SLURM_CONF") else {}
