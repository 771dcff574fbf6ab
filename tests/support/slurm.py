"""A real Slurm on 127.0.0.1 for tests and benchmarks: munged, slurmctld and one slurmd node
from Debian's slurm-wlm and munge, configured in a temporary folder, on free ports. The node
says it has 4 CPUs and 4,000 MB, whatever the machine has (config_overrides): a Dask cluster's
scheduler and two workers are three one-core jobs at once. It has two GPUs (gres), whose
devices are stand-ins (/dev/tty1 and /dev/tty2).
Clients (sbatch, squeue, scancel) find it through $SLURM_CONF, which `env` gives."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .jupyter import free_port

NODE = "cygnetnode"
CONF = """\
ClusterName=cygnettest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={public}/munge.sock
CredType=cred/munge
StateSaveLocation={base}/state
SlurmdSpoolDir={public}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MessageTimeout=10
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={node} NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=4000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def available():
    return all(shutil.which(p) for p in ("munged", "slurmctld", "slurmd", "sbatch")) and os.geteuid() == 0


class Slurm:
    """`for_all_accounts`: other accounts submit jobs too (as on a site, where slurm.conf and
    munge's socket are open to all): those two then live in a folder of their own, 0755, outside
    pytest's private folders; the munge key and Slurm's state stay private."""

    def __init__(self, base, for_all_accounts=False):
        self.base = Path(base)
        self.public = Path(tempfile.mkdtemp(prefix="cygnet-slurm-")) if for_all_accounts else self.base
        self.procs = []
        self.env = {"SLURM_CONF": str(self.public / "slurm.conf")}

    def start(self, timeout=30):
        base = self.base
        (base / "state").mkdir(parents=True)
        (self.public / "spool").mkdir(mode=0o755)
        os.chmod(base, 0o700)
        os.chmod(self.public, 0o755 if self.public != base else 0o700)
        key = base / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        ports = {"ctld_port": free_port(), "slurmd_port": free_port()}
        conf = CONF.format(base=base, public=self.public, user="root", node=NODE, **ports)
        (self.public / "slurm.conf").write_text(conf)
        # Two GPUs that are not there: Slurm schedules them, counts them and sets
        # CUDA_VISIBLE_DEVICES in jobs that ask for them, all that a GPU choice needs of it.
        (self.public / "gres.conf").write_text(f"NodeName={NODE} Name=gpu File=/dev/tty[1-2]\n")
        env = {**os.environ, **self.env}
        munge = [
            "munged", "-F", "-f", f"--socket={self.public}/munge.sock", f"--key-file={key}",
            f"--log-file={base}/munged.log", f"--pid-file={base}/munged.pid", f"--seed-file={base}/munged.seed",
        ]  # fmt: skip
        self._spawn(munge, env)
        self._wait(lambda: (self.public / "munge.sock").exists(), "munged", timeout)
        self._spawn(["slurmctld", "-D", "-i"], env)
        self._spawn(["slurmd", "-D", "-N", NODE], env)
        self._wait(lambda: self.idle(), "the Slurm node", timeout)
        return self

    def idle(self):
        out = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, env={**os.environ, **self.env}
        )
        return out.stdout.strip() == "idle"

    def _spawn(self, cmd, env):
        log = open(self.base / f"{cmd[0]}.out", "wb")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))

    def _wait(self, ready, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.2)
        logs = {p.name: p.read_text()[-1500:] for p in self.base.glob("*.log")}
        self.stop()
        raise RuntimeError(f"{what} did not come up: {logs}")

    def stop(self):
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []
        if self.public != self.base:
            shutil.rmtree(self.public, ignore_errors=True)
