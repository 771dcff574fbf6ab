"""A real Slurm on 127.0.0.1 for tests and benchmarks: munged, slurmctld and one slurmd node
(2 CPUs) from Debian's slurm-wlm and munge, configured in a temporary folder, on free ports.
Clients (sbatch, squeue, scancel) find it through $SLURM_CONF, which `env` gives."""

import os
import shutil
import subprocess
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
AuthInfo=socket={base}/munge.sock
CredType=cred/munge
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
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
NodeName={node} NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def available():
    return all(shutil.which(p) for p in ("munged", "slurmctld", "slurmd", "sbatch")) and os.geteuid() == 0


class Slurm:
    def __init__(self, base):
        self.base = Path(base)
        self.procs = []
        self.env = {"SLURM_CONF": str(self.base / "slurm.conf")}

    def start(self, timeout=30):
        base = self.base
        (base / "state").mkdir(parents=True)
        (base / "spool").mkdir()
        os.chmod(base, 0o700)
        key = base / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        conf = CONF.format(base=base, ctld_port=free_port(), slurmd_port=free_port(), user="root", node=NODE)
        (base / "slurm.conf").write_text(conf)
        env = {**os.environ, **self.env}
        munge = [
            "munged", "-F", "-f", f"--socket={base}/munge.sock", f"--key-file={key}",
            f"--log-file={base}/munged.log", f"--pid-file={base}/munged.pid", f"--seed-file={base}/munged.seed",
        ]  # fmt: skip
        self._spawn(munge, env)
        self._wait(lambda: (base / "munge.sock").exists(), "munged", timeout)
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
