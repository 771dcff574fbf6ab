"""Sessions on Slurm nodes: batchspawner's SlurmSpawner with Cygnet's form. Needs `batchspawner`.

The form's cores and memory become the job's `--cpus-per-task` and `--mem`; the site sets the
partition, account and time limit (`req_partition`, `req_account`, `req_runtime`, batchspawner's
own traits). While the job waits, the spawn page says where it is in the queue and why; a job
Slurm refuses fails the spawn with Slurm's reason. The session knows when its job ends
($SLURM_JOB_ID: /cygnet/api/session/limit) and JupyterLab warns before.

What Cygnet changes in batchspawner (1.3.0), and why:
- Jobs are submitted as the user with `runuser` (util-linux, beside every root hub), not
  `sudo -E -u`: nothing to install or configure in sudoers.
- batchspawner's hub API handler (`/hub/api/batchspawner`) sets *any* attribute of the spawner a
  session's token names, `exec_prefix` included, which the hub then runs as root: any user could
  run commands as root from their session. Cygnet's handler takes the port and nothing else.
- The job's node is reached by its NodeAddr (`scontrol show node`), not by its name, which need
  not resolve on the hub's machine.
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time

from batchspawner import SlurmSpawner
from jupyterhub import apihandlers
from jupyterhub.apihandlers import APIHandler
from tornado import web
from traitlets import Bool, Float, Unicode, default

from .spawner import CygnetSpawnerMixin, account_home

NODE_ADDR = re.compile(r"\bNodeAddr=(\S+)")

JOB_SCRIPT = """#!/bin/bash
#SBATCH --output={{homedir}}/.cygnet-session-%j.log
#SBATCH --job-name=cygnet-session
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
{% if partition %}#SBATCH --partition={{partition}}
{% endif %}{% if account %}#SBATCH --account={{account}}
{% endif %}{% if runtime %}#SBATCH --time={{runtime}}
{% endif %}{% if memory %}#SBATCH --mem={{memory}}
{% endif %}{% if gres %}#SBATCH --gres={{gres}}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{nprocs}}
{% endif %}{% if options %}#SBATCH {{options}}
{% endif %}
set -euo pipefail
umask 077
trap 'echo the session got SIGTERM: its time is up or it was stopped' TERM
{{prologue}}
{% if srun %}{{srun}} {% endif %}{{cmd}}
{{epilogue}}
"""


class CygnetSlurmSpawner(CygnetSpawnerMixin, SlurmSpawner):
    """Each session is a Slurm job of the user's account, on whichever node Slurm picks."""

    batch_script = Unicode(
        help="The session job's script, a Jinja template as batchspawner's; Cygnet's (JOB_SCRIPT in "
        "cygnet.hub.slurm_spawner) asks for the form's cores and memory and the site's partition, account and "
        "time limit, and runs the session with umask 077."
    ).tag(config=True)

    @default("batch_script")
    def _cygnets_job_script(self):
        return JOB_SCRIPT

    exec_prefix = Unicode(
        "runuser -u {username} --",
        help="How the hub (root) runs sbatch, squeue and scancel as the user.",
    ).tag(config=True)
    req_srun = Unicode(
        "", help="A prefix for the session's command inside the job (e.g. 'srun'); none by default."
    ).tag(config=True)

    private_homes = Bool(True, help="Make each user's home 0700 before their session's job is submitted.").tag(
        config=True
    )

    gpus_free_every = Float(
        10.0, help="Seconds the form's count of free GPUs (sinfo) is reused before Slurm is asked again."
    ).tag(config=True)

    @default("batchspawner_singleuser_cmd")
    def _wrapper_beside_the_hub(self):  # the service's environment need not be on the user's PATH
        beside = os.path.join(os.path.dirname(sys.executable), "batchspawner-singleuser")
        return beside if os.path.exists(beside) else "batchspawner-singleuser"

    def apply_cygnet_options(self, options):
        super().apply_cygnet_options(options)
        self.req_nprocs = str(int(self.cpu_limit))
        self.req_memory = str(self.user_options["memory"])

    def apply_gpu(self, gpu):
        self.req_gres = (gpu or {}).get("slurm_gres", "")

    def gpus_free(self, gpu):
        """Free GPUs of the choice's kind on the cluster's nodes: configured less allocated."""
        gres = (gpu or {}).get("slurm_gres", "")
        if not gres:
            return None
        return slurm_free_gres(gres, self.req_partition, self.gpus_free_every)

    def get_env(self):
        env = super().get_env()
        if os.environ.get("SLURM_CONF"):  # the session asks Slurm when its job ends
            env["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return env

    async def start(self):
        account_home(self.user.name, private=self.private_homes)
        return await super().start()

    async def submit_batch_script(self):
        try:
            return await super().submit_batch_script()
        except RuntimeError as e:  # sbatch's own words: no such partition, over a limit, ...
            raise web.HTTPError(400, f"Slurm refused the session's job: {e}") from None

    def state_gethost(self):
        """The address of the job's node, as Slurm reaches it."""
        name = super().state_gethost()
        scontrol = shutil.which("scontrol") or "scontrol"
        try:
            out = subprocess.run(
                [scontrol, "show", "node", name, "-o"], capture_output=True, text=True, timeout=20
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return name
        found = NODE_ADDR.search(out)
        return found.group(1) if found else name

    async def progress(self):
        """What the job waits for, while it waits: its place in the queue and Slurm's reason."""
        while True:
            if self.state_isrunning():
                yield {"message": f"Slurm job {self.job_id} is running: waiting for the session to answer"}
                return
            if self.state_ispending():
                yield {"message": await self._queue_position()}
            else:
                yield {"message": f"Slurm job {self.job_id or '(being submitted)'}: status unknown yet"}
            await asyncio.sleep(1)

    async def _queue_position(self):
        squeue = shutil.which("squeue") or "squeue"
        try:
            proc = await asyncio.create_subprocess_exec(
                squeue, "-h", "-t", "PENDING", "--sort=-p,i", "-o", "%i %r",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), 20)
        except (TimeoutError, OSError):
            return f"Slurm job {self.job_id} is waiting in the queue"
        pending = [line.split(None, 1) for line in out.decode().splitlines() if line.strip()]
        ids = [p[0] for p in pending]
        if self.job_id not in ids:
            return f"Slurm job {self.job_id} is waiting in the queue"
        reason = dict((p[0], p[1] if len(p) > 1 else "") for p in pending)[self.job_id]
        return (
            f"Slurm job {self.job_id} is waiting in the queue: position {ids.index(self.job_id) + 1} of "
            f"{len(ids)} ({READABLE_REASONS.get(reason, reason)})"
        )


READABLE_REASONS = {
    "Resources": "waiting for free cores, memory or GPUs",
    "Priority": "jobs of higher priority go first",
    "QOSMaxJobsPerUserLimit": "you have as many jobs running as your QOS allows",
    "AssocGrpCpuLimit": "your group's cores are all in use",
    "ReqNodeNotAvail": "the nodes it may run on are not available",
    "PartitionTimeLimit": "its time limit is over the partition's",
}


_free_cache = {}


def slurm_free_gres(gres, partition="", max_age=10.0):
    """How many more of `gres` ("gpu:1", "gpu:a100:2", "gpu:a100_1g.10gb:1") the nodes (of
    `partition`, else all) could give now: per node, configured less in use (sinfo's Gres and
    GresUsed); None when Slurm cannot say. An answer up to `max_age` seconds old is reused: the
    form is rendered on the hub's event loop."""
    key, now = (gres, partition), time.monotonic()
    if key in _free_cache and now - _free_cache[key][0] < max_age:
        return _free_cache[key][1]
    free = _ask_free_gres(gres, partition)
    _free_cache[key] = (now, free)
    return free


def _ask_free_gres(gres, partition):
    parts = gres.split(":")
    name, kind = parts[0], (parts[1] if len(parts) > 2 else None)
    cmd = [shutil.which("sinfo") or "sinfo", "-h", "-N", "-O", "NodeList:200,Gres:500,GresUsed:500"]
    try:
        out = subprocess.run(cmd + (["-p", partition] if partition else []), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    nodes = {}
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3:  # a node in several partitions is listed once per partition
            nodes[fields[0]] = (_gres_count(fields[1], name, kind), _gres_count(fields[2], name, kind))
    return sum(max(0, configured - used) for configured, used in nodes.values())


def _gres_count(text, name, kind):
    """The count of gres `name` (of type `kind`, or any) in sinfo's 'gpu:a100:4(S:0-1),gpu:v100:2'."""
    total = 0
    for entry in re.sub(r"\([^)]*\)", "", text).split(","):
        parts = entry.split(":")
        if len(parts) < 2 or parts[0] != name or not parts[-1].isdigit():
            continue
        entry_kind = parts[1] if len(parts) > 2 and parts[1] else None  # "gpu:(null):1": untyped
        if kind is None or entry_kind == kind:
            total += int(parts[-1])
    return total


class SessionPortHandler(APIHandler):
    """POST /hub/api/batchspawner {"port": N}: the session's job says where its server listens.
    Only the port is taken, for the server of the token that calls."""

    @web.authenticated
    def post(self):
        token = self.get_auth_token()
        user = self.current_user
        spawner = next((s for s in getattr(user, "spawners", {}).values() if s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "only a session's own token says where it listens")
        try:
            port = int((self.get_json_body() or {}).get("port"))
        except (TypeError, ValueError):
            raise web.HTTPError(400, "port must be a number") from None
        if not 1024 <= port <= 65535:
            raise web.HTTPError(400, f"port must be within 1024-65535, not {port}")
        spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "the session's port is set"}))


def _replace_batchspawners_handler():
    handlers = apihandlers.default_handlers
    handlers[:] = [h for h in handlers if h[0] != r"/api/batchspawner"] + [(r"/api/batchspawner", SessionPortHandler)]


_replace_batchspawners_handler()
