"""Run backends without a server: the registry (entry points, the built-in fallback, a site's own
backend), the typed settings of each backend becoming its scheduler's job description, the
deprecated c.Cygnet.runs_* options, and the tools (condor_submit, kubectl) missing or faked."""

import json
import logging
import os
import shutil
from importlib.metadata import EntryPoint

import pytest
import yaml
from traitlets import Unicode
from traitlets.config import Config

from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput, MissingTool, Unavailable
from cygnet.runs import settings
from cygnet.runs.backends import (
    GROUP,
    HTCondorRunBackend,
    Job,
    KubernetesRunBackend,
    RunBackend,
    SlurmRunBackend,
    backend_class,
    backend_named,
    declared,
    make,
    names,
)
from cygnet.runs.backends.kubernetes import job_state
from cygnet.runs.service import Runs
from tests.support.cli import cygnet

BUILT_IN = ["local", "slurm", "htcondor", "kubernetes"]
JOB = Job(run_id="abc123def456", run_dir="/data/runs/abc123def456", workdir="/home/alice/cygnet",
          env={"CYGNET_VIEW": "LCG_106/x", "BASH_FUNC_module%%": "() {  eval\n}"},
          python="/opt/cygnet/bin/python")  # fmt: skip


class PBSRunBackend(RunBackend):
    """A site's own backend, as a site's package would declare it."""

    name = "pbs"
    queue = Unicode("batch", help="The PBS queue.").tag(config=True)

    def describe(self, job):
        return f"#PBS -q {self.queue}\nexec {' '.join(job.command)}\n"

    def submit(self, job):
        return "1.pbs"

    def state(self, job_id, run_dir):
        return "ended"

    def cancel(self, job_id, run_dir):
        pass


class NotABackend:
    pass


def entry(name, target):
    return EntryPoint(name, f"{__name__}:{target}", GROUP)


# --- the registry -------------------------------------------------------------------------
def test_the_installed_backends_are_the_declared_four_in_their_order():
    assert names()[:4] == BUILT_IN
    assert backend_class("slurm") is SlurmRunBackend


def test_the_built_in_four_stand_in_when_no_metadata_is_visible():
    table = declared([])
    assert list(table) == BUILT_IN
    assert backend_class("kubernetes", found=[]) is KubernetesRunBackend


def test_an_unknown_backend_is_refused_naming_the_installed_ones():
    with pytest.raises(BadInput, match=r"unknown backend 'pbs' \(installed: local, slurm, htcondor, kubernetes\)"):
        backend_class("pbs", found=[])
    with pytest.raises(BadInput, match=r"c.Cygnet.runs_backend is 'pbs', which no installed run backend provides"):
        backend_class("pbs", found=[], option="c.Cygnet.runs_backend")


def test_a_sites_own_backend_declared_in_the_group_is_picked_up_and_configured():
    found = [entry("pbs", "PBSRunBackend")]
    assert names(found) == BUILT_IN + ["pbs"]
    backend = make("pbs", Config({"PBSRunBackend": {"queue": "short"}}), found=found)
    assert isinstance(backend, PBSRunBackend) and backend.describe(JOB).startswith("#PBS -q short")
    # A site's class of a built-in name takes that name's place, in the same position.
    assert declared([entry("slurm", "PBSRunBackend")])["slurm"].value.endswith(":PBSRunBackend")
    assert names([entry("slurm", "PBSRunBackend")]) == BUILT_IN


def test_a_broken_declaration_is_named():
    with pytest.raises(Unavailable, match="the odd run backend .* is not a RunBackend subclass"):
        backend_class("odd", found=[entry("odd", "NotABackend")])
    with pytest.raises(Unavailable, match="the gone run backend .*cannot be loaded: AttributeError"):
        backend_class("gone", found=[entry("gone", "Nowhere")])


def test_a_backend_must_do_everything_a_backend_does():
    class Half(RunBackend):
        def submit(self, job):
            return ""

    with pytest.raises(TypeError, match="abstract"):
        Half()


def test_an_unknown_default_backend_is_named_when_runs_start(tmp_path):
    runs = Runs(settings.RunSettings(data_dir=str(tmp_path), default_backend="pbs"), tmp_path)
    with pytest.raises(BadInput, match=r"c.Cygnet.runs_backend is 'pbs', .*\(installed: local, slurm, htcondor"):
        runs.check()
    Runs(settings.RunSettings(data_dir=str(tmp_path), default_backend="slurm"), tmp_path).check()


def test_cygnet_run_refuses_an_unknown_default_backend_first(tmp_path):
    result = cygnet("run", "x.ipynb", "--workspace", str(tmp_path), "--Cygnet.runs_backend=pbs",
                    env={"CYGNET_DATA_DIR": str(tmp_path / "data")}, timeout=120)  # fmt: skip
    assert result.returncode == BadInput.exit_code, result.stderr
    assert "'pbs', which no installed run backend provides (installed: local, slurm, htcondor, kubernetes" in (
        result.stderr
    )


# --- the settings from the configuration -------------------------------------------------------
def test_the_deprecated_run_options_are_read_as_the_backends_own_with_a_warning(tmp_path, caplog):
    old = {
        "data_dir": str(tmp_path),
        "runs_slurm_options": ["--account=physics"],
        "runs_htcondor_options": ['+JobFlavour = "workday"'],
        "runs_kubernetes_image": "site/session:2",
    }
    with caplog.at_level(logging.WARNING, logger="cygnet.runs"):
        made = settings.from_config(Cygnet(config=Config({"Cygnet": old})))
    assert "c.Cygnet.runs_slurm_options is deprecated: read as c.SlurmRunBackend.extra_directives" in caplog.text
    assert "runs_kubernetes_namespace" not in caplog.text, "an option left at its default is not mentioned"
    assert "#SBATCH --account=physics" in make("slurm", made.backend_config).script(JOB)
    assert '+JobFlavour = "workday"' in make("htcondor", made.backend_config).description(JOB)
    assert make("kubernetes", made.backend_config).manifest(JOB)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == ("site/session:2")


def test_a_backends_own_option_wins_over_the_deprecated_one(tmp_path, caplog):
    config = Config({"Cygnet": {"data_dir": str(tmp_path), "runs_slurm_options": ["--account=old"]}})
    config.SlurmRunBackend.extra_directives = ["--account=new"]
    with caplog.at_level(logging.WARNING, logger="cygnet.runs"):
        made = settings.from_config(Cygnet(config=config))
    assert "runs_slurm_options is deprecated and ignored: c.SlurmRunBackend.extra_directives is set" in caplog.text
    script = make("slurm", made.backend_config).script(JOB)
    assert "--account=new" in script and "--account=old" not in script
    assert config.SlurmRunBackend.extra_directives == ["--account=new"], "the site's configuration is not changed"


def test_the_settings_are_plain_values_of_the_configuration(tmp_path):
    made = settings.from_config(Cygnet(config=Config({"Cygnet": {"data_dir": str(tmp_path), "runs_backend": "slurm"}})))
    assert made.data_dir == str(tmp_path) and made.default_backend == "slurm"
    assert all(isinstance(root, str) for root in made.views_roots) and made.kernel_specs is not None


# --- Slurm ---------------------------------------------------------------------------------
def test_typed_slurm_settings_become_sbatch_lines_after_the_runs_own():
    backend = SlurmRunBackend(
        partition="batch,short", account="physics", qos="normal", time_limit="1-02:00:00",
        extra_directives=["--constraint=avx2", "--mail-type=END"],
    )  # fmt: skip
    lines = backend.describe(JOB).splitlines()
    assert lines[:4] == [
        "#!/bin/bash", "#SBATCH --job-name=cygnet-run-abc123def456",
        "#SBATCH --output=/data/runs/abc123def456/job.log", "#SBATCH --chdir=/home/alice/cygnet",
    ]  # fmt: skip
    assert lines[4:10] == [
        "#SBATCH --partition=batch,short", "#SBATCH --account=physics", "#SBATCH --qos=normal",
        "#SBATCH --time=1-02:00:00", "#SBATCH --constraint=avx2", "#SBATCH --mail-type=END",
    ]  # fmt: skip
    assert lines[-1] == "exec /opt/cygnet/bin/python -m cygnet.runs.execute /data/runs/abc123def456"
    job = Job(**{**JOB.__dict__, "time_limit_minutes": 30})
    assert "#SBATCH --time=30" in backend.script(job), "a run's own limit comes before the site's default"
    assert not any(line.startswith("#SBATCH --partition") for line in SlurmRunBackend().script(JOB).splitlines())


@pytest.mark.parametrize(
    "settings_, words",
    [
        ({"partition": "batch; rm -rf"}, "c.SlurmRunBackend.partition is 'batch; rm -rf', which is not a partition"),
        ({"account": "a b"}, "c.SlurmRunBackend.account"),
        ({"time_limit": "2h"}, "c.SlurmRunBackend.time_limit is '2h', which is not a Slurm time"),
        ({"extra_directives": ["#SBATCH --x=1"]}, "without '#SBATCH'"),
        ({"extra_directives": ["--a=1\n--b=2"]}, "must be one line"),
        ({"partition": 5}, "the settings of the slurm run backend: The 'partition' trait"),
    ],
)
def test_bad_slurm_settings_are_refused_when_the_backend_is_made(settings_, words):
    with pytest.raises(BadInput) as e:
        make("slurm", Config({"SlurmRunBackend": settings_}))
    assert words in str(e.value)


# --- HTCondor ------------------------------------------------------------------------------
def test_the_htcondor_description_carries_the_typed_settings_and_a_usable_environment():
    backend = HTCondorRunBackend(
        requirements='(OpSysAndVer == "AlmaLinux9") && (Arch == "X86_64")', accounting_group="group_u_physics.alice",
        extra_submit_lines=['+JobFlavour = "workday"'],
    )  # fmt: skip
    lines = backend.describe(JOB).splitlines()
    assert 'requirements = (OpSysAndVer == "AlmaLinux9") && (Arch == "X86_64")' in lines
    assert "accounting_group = group_u_physics.alice" in lines and '+JobFlavour = "workday"' in lines
    assert lines[-1] == "queue" and lines.count("queue") == 1
    environment = next(line for line in lines if line.startswith("environment = "))
    assert "CYGNET_VIEW='LCG_106/x'" in environment and "BASH_FUNC" not in environment


@pytest.mark.parametrize(
    "settings_, words",
    [
        ({"requirements": '(Arch == "X86_64"'}, "a parenthesis that is not closed"),
        ({"requirements": 'Arch == "X86_64'}, "a string that is not closed"),
        ({"requirements": "Arch == 1)"}, "closes a parenthesis it never opened"),
        ({"extra_submit_lines": ["queue 5"]}, "sets queue, which Cygnet writes itself"),
        ({"extra_submit_lines": ["Executable = /bin/sh"]}, "sets executable, which Cygnet writes itself"),
        ({"extra_submit_lines": ["just words"]}, "is not a submit command (name = value)"),
        ({"requirements": "true", "extra_submit_lines": ["requirements = false"]}, "c.HTCondorRunBackend.requirements"),
        ({"accounting_group": "a group"}, "c.HTCondorRunBackend.accounting_group"),
    ],
)
def test_bad_htcondor_settings_are_refused(settings_, words):
    with pytest.raises(BadInput) as e:
        HTCondorRunBackend(**settings_).describe(JOB)
    assert words in str(e.value)


# --- Kubernetes ----------------------------------------------------------------------------
VOLUMES = [
    {"name": "cvmfs", "hostPath": {"path": "/cvmfs"}, "mountPath": "/cvmfs", "readOnly": True},
    {"name": "home", "persistentVolumeClaim": {"claimName": "homes"}, "mountPath": "/home"},
]


def test_the_kubernetes_job_carries_the_typed_settings_and_is_valid_yaml():
    backend = KubernetesRunBackend(namespace="batch", image="site/session:1", cpu="500m", memory="2Gi",
                                   volumes=VOLUMES, service_account="runner")  # fmt: skip
    manifest = backend.manifest(JOB)
    assert yaml.safe_load(backend.describe(JOB)) == manifest
    pod = manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert manifest["metadata"] == {"name": "cygnet-run-abc123def456", "namespace": "batch",
                                    "labels": {"app": "cygnet-run"}}  # fmt: skip
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"},
                                      "limits": {"cpu": "500m", "memory": "2Gi"}}  # fmt: skip
    assert container["volumeMounts"] == [{"name": "cvmfs", "mountPath": "/cvmfs", "readOnly": True},
                                         {"name": "home", "mountPath": "/home"}]  # fmt: skip
    assert pod["volumes"][1] == {"name": "home", "persistentVolumeClaim": {"claimName": "homes"}}
    assert pod["serviceAccountName"] == "runner" and pod["restartPolicy"] == "Never"
    assert [e["name"] for e in container["env"]] == ["CYGNET_VIEW"], "names Kubernetes refuses are left out"
    job = Job(**{**JOB.__dict__, "cpus": 4, "memory_mb": 1024})
    assert backend.manifest(job)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "4",
        "memory": "1024Mi",
    }, "a run's own resources come before the site's defaults"


@pytest.mark.parametrize(
    "settings_, words",
    [
        ({"namespace": "Batch_1"}, "c.KubernetesRunBackend.namespace is 'Batch_1', not a Kubernetes namespace"),
        ({"image": "site/session 1"}, "not an image reference"),
        ({"cpu": "two"}, "not a CPU quantity"),
        ({"memory": "4GB"}, "not a memory quantity"),
        ({"volumes": [{"name": "x", "hostPath": {"path": "/x"}}]}, "needs a mountPath"),
        ({"volumes": [{"name": "Big", "hostPath": {"path": "/x"}, "mountPath": "/x"}]}, "needs a name"),
        ({"volumes": [{"name": "x", "mountPath": "/x"}]}, "needs exactly one source"),
        ({"volumes": [VOLUMES[0], VOLUMES[0]]}, "the name cvmfs is used twice"),
    ],
)
def test_bad_kubernetes_settings_are_refused(settings_, words):
    with pytest.raises(BadInput) as e:
        KubernetesRunBackend(**settings_).describe(JOB)
    assert words in str(e.value)


@pytest.mark.parametrize(
    "status, state",
    [
        ({}, "queued"),
        ({"active": 1, "ready": 0}, "queued"),
        ({"active": 1, "ready": 1}, "running"),
        ({"active": 1}, "running"),
        ({"succeeded": 1}, "ended"),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, "ended"),
    ],
)
def test_a_kubernetes_jobs_status_is_read_as_a_runs_state(status, state):
    assert job_state(status) == state


# --- the schedulers' tools --------------------------------------------------------------------
@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    """A folder that is the whole PATH, for fake tools (or none)."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    return path


def tool(bin_dir, name, script):
    path = bin_dir / name
    path.write_text(f"#!{shutil.which('sh', path='/bin:/usr/bin')}\n{script}\n")
    path.chmod(0o755)


@pytest.mark.parametrize(
    "backend, tool_name, words",
    [
        (HTCondorRunBackend(), "condor_submit", "the site's HTCondor schedd with condor_submit"),
        (KubernetesRunBackend(), "kubectl", "the site's cluster with kubectl"),
        (SlurmRunBackend(), "sbatch", "submits runs with sbatch"),
    ],
)
def test_a_missing_tool_is_named_and_the_description_is_still_made(backend, tool_name, words, bin_dir, tmp_path):
    job = Job(**{**JOB.__dict__, "run_dir": str(tmp_path)})
    assert backend.describe(job)
    with pytest.raises(MissingTool) as e:
        backend.submit(job)
    assert words in str(e.value) and f"{tool_name} is not installed here" in str(e.value)
    assert e.value.http_status == 503


def test_htcondor_submits_follows_and_cancels_through_its_tools(bin_dir, tmp_path):
    calls = tmp_path / "calls"
    tool(bin_dir, "condor_submit", f'echo "$@" >> {calls}; echo "4242.0 - 4242.0"')
    tool(bin_dir, "condor_q", f'echo "$@" >> {calls}; echo 2')
    tool(bin_dir, "condor_rm", f'echo "$@" >> {calls}')
    backend = HTCondorRunBackend(requirements="true")
    job = Job(**{**JOB.__dict__, "run_dir": str(tmp_path)})
    assert backend.submit(job) == "4242.0"
    assert (tmp_path / "job.sub").read_text() == backend.description(job)
    assert backend.state("4242.0", str(tmp_path)) == "running"
    backend.cancel("4242.0", str(tmp_path))
    assert calls.read_text().splitlines() == [f"-terse {tmp_path}/job.sub", "4242.0 -af JobStatus", "4242.0"]


def test_kubernetes_creates_follows_and_deletes_through_kubectl(bin_dir, tmp_path):
    status = json.dumps({"status": {"active": 1, "ready": 1}})
    tool(
        bin_dir,
        "kubectl",
        f"""echo "$@" >> {tmp_path}/calls
case "$1 $3" in
  "get gone") echo 'Error from server (NotFound): jobs.batch "gone" not found' >&2; exit 1;;
  "get down") echo 'The connection to the server was refused' >&2; exit 1;;
  get*) echo '{status}';;
esac""",
    )
    backend = KubernetesRunBackend(namespace="batch")
    job = Job(**{**JOB.__dict__, "run_dir": str(tmp_path)})
    job_id = backend.submit(job)
    assert job_id == "batch/cygnet-run-abc123def456"
    assert yaml.safe_load((tmp_path / "job.yaml").read_text())["metadata"]["namespace"] == "batch"
    assert backend.state(job_id, str(tmp_path)) == "running"
    assert backend.state("batch/gone", str(tmp_path)) == "ended"
    with pytest.raises(Unavailable, match="asking Kubernetes failed: The connection to the server was refused"):
        backend.state("batch/down", str(tmp_path))
    backend.cancel(job_id, str(tmp_path))
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith(f"create --filename {tmp_path}/job.yaml")
    assert calls[-1].startswith("delete job cygnet-run-abc123def456 --namespace batch --ignore-not-found")


def test_the_old_module_path_still_offers_what_it_did():
    from cygnet.runs.backends import BACKENDS, HTCondorBackend, KubernetesBackend, SlurmBackend

    assert list(BACKENDS) == BUILT_IN
    assert (SlurmBackend, HTCondorBackend, KubernetesBackend) == (
        SlurmRunBackend,
        HTCondorRunBackend,
        KubernetesRunBackend,
    )
    backend = backend_named("kubernetes", Config({"KubernetesRunBackend": {"namespace": "batch"}}))
    assert backend.manifest(JOB)["metadata"]["namespace"] == "batch"
    assert os.path.basename(Job("x", "/r", "/w", {}).log) == "job.log"
