"""`kubernetes`: the job as a batch/v1 Job running the session image, with the site's volumes
mounted so the pod sees the views and the workspace at the session's paths; created with
`kubectl create`, followed with `kubectl get`, cancelled with `kubectl delete`. The manifest is
made and checked anywhere; submitting needs kubectl and the site's cluster.

A variable Kubernetes does not take as a name (bash's exported functions) is left out of the
pod's environment."""

import json
import os
import re
from typing import Any

from traitlets import Dict, List, Unicode

from cygnet.core.errors import BadInput, Unavailable
from cygnet.core.proc import tail

from .base import RunBackend
from .job import Job
from .tools import require, run_tool

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # a DNS-1123 label: names, namespaces
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
IMAGE = re.compile(r"^[^\s]+$")
REQUEST_TIMEOUT = "20s"  # kubectl's own bound, inside the tools' one


class KubernetesRunBackend(RunBackend):
    """Runs as Kubernetes Jobs (one pod, never restarted)."""

    name = "kubernetes"

    namespace = Unicode(
        "default",
        help="The namespace of runs' Kubernetes Jobs. Replaces the deprecated Cygnet.runs_kubernetes_namespace.",
    ).tag(config=True)

    image = Unicode(
        "cygnet/session:latest",
        help="The image of runs' Kubernetes Jobs: the session image, with the views and the workspace "
        "mounted (volumes). Replaces the deprecated Cygnet.runs_kubernetes_image.",
    ).tag(config=True)

    cpu = Unicode(
        "",
        help="The CPU request and limit of a run's pod when the run asks none, as a Kubernetes quantity "
        "(2, 500m). Empty: none.",
    ).tag(config=True)

    memory = Unicode(
        "",
        help="The memory request and limit of a run's pod when the run asks none, as a Kubernetes "
        "quantity (4Gi, 512Mi). Empty: none.",
    ).tag(config=True)

    volumes = List(
        Dict(),
        [],
        help="Volumes of a run's pod, each a Kubernetes volume with the path to mount it at, e.g. "
        "{'name': 'cvmfs', 'hostPath': {'path': '/cvmfs'}, 'mountPath': '/cvmfs'}: the pod must see the "
        "views and the workspace at the session's paths.",
    ).tag(config=True)

    service_account = Unicode("", help="The service account of runs' pods. Empty: the namespace's default.").tag(
        config=True
    )

    def check(self) -> None:
        if not LABEL.match(self.namespace):
            raise BadInput(f"{self.option('namespace')} is {self.namespace!r}, not a Kubernetes namespace name")
        if not IMAGE.match(self.image):
            raise BadInput(f"{self.option('image')} is {self.image!r}, not an image reference")
        if self.cpu and not CPU.match(self.cpu):
            raise BadInput(f"{self.option('cpu')} is {self.cpu!r}, not a CPU quantity such as 2 or 500m")
        if self.memory and not MEMORY.match(self.memory):
            raise BadInput(f"{self.option('memory')} is {self.memory!r}, not a memory quantity such as 4Gi")
        if self.service_account and not SUBDOMAIN.match(self.service_account):
            raise BadInput(f"{self.option('service_account')} is {self.service_account!r}, not an account name")
        seen: set[str] = set()
        for volume in self.volumes:
            name, path = volume.get("name"), volume.get("mountPath")
            where = f"{self.option('volumes')}: {volume!r}"
            if not isinstance(name, str) or not LABEL.match(name):
                raise BadInput(f"{where} needs a name that is a DNS label (lower case, digits, '-')")
            if name in seen:
                raise BadInput(f"{where}: the name {name} is used twice")
            seen.add(name)
            if not isinstance(path, str) or not path.startswith("/"):
                raise BadInput(f"{where} needs a mountPath, an absolute path")
            sources = [k for k in volume if k not in ("name", "mountPath", "readOnly")]
            if len(sources) != 1:
                raise BadInput(f"{where} needs exactly one source (hostPath, persistentVolumeClaim, nfs, ...)")

    def manifest(self, job: Job) -> dict[str, Any]:
        """The Job manifest of `job`, checked."""
        self.check()
        name = f"cygnet-run-{job.run_id}"
        if not LABEL.match(name):
            raise BadInput(f"the run id {job.run_id!r} cannot name a Kubernetes Job")
        resources: dict[str, str] = {}
        cpu = str(job.cpus) if job.cpus else self.cpu
        memory = f"{job.memory_mb}Mi" if job.memory_mb else self.memory
        if cpu:
            resources["cpu"] = cpu
        if memory:
            resources["memory"] = memory
        container: dict[str, Any] = {
            "name": "run",
            "image": self.image,
            "command": job.command,
            "workingDir": job.workdir,
            "env": [{"name": k, "value": v} for k, v in sorted(job.env.items()) if ENV_NAME.match(k)],
            "resources": {"requests": resources, "limits": resources} if resources else {},
            "volumeMounts": [_mount(v) for v in self.volumes],
        }
        pod: dict[str, Any] = {
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": [{k: v for k, v in vol.items() if k not in ("mountPath", "readOnly")} for vol in self.volumes],
        }
        if self.service_account:
            pod["serviceAccountName"] = self.service_account
        spec: dict[str, Any] = {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": {"app": "cygnet-run", "cygnet-run": job.run_id}}, "spec": pod},
        }
        if job.time_limit_minutes:
            spec["activeDeadlineSeconds"] = job.time_limit_minutes * 60
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {"app": "cygnet-run"}},
            "spec": spec,
        }

    def describe(self, job: Job) -> str:
        import yaml

        return yaml.safe_dump(self.manifest(job), sort_keys=False)

    def submit(self, job: Job) -> str:
        manifest = self.describe(job)
        kubectl = require("kubectl", "the kubernetes backend creates runs' Jobs in the site's cluster with kubectl")
        path = os.path.join(job.run_dir, "job.yaml")
        with open(path, "w") as f:
            f.write(manifest)
        run_tool(
            [kubectl, "create", "--filename", path, f"--request-timeout={REQUEST_TIMEOUT}"], "submitting to Kubernetes"
        )
        return f"{self.namespace}/cygnet-run-{job.run_id}"

    def state(self, job_id: str, run_dir: str) -> str:
        kubectl = require("kubectl", "the kubernetes backend follows runs with kubectl")
        namespace, _, name = job_id.partition("/")
        code, out, err = run_tool(
            [kubectl, "get", "job", name, "--namespace", namespace, "--output", "json"]
            + [f"--request-timeout={REQUEST_TIMEOUT}"],
            "asking Kubernetes",
            ok_codes=(0, 1),
        )
        if code:
            if "NotFound" in err or "not found" in err:
                return "ended"  # deleted: status.json says how it ended
            raise Unavailable(f"asking Kubernetes failed: {tail(err) or f'exit {code}'}")
        return job_state(json.loads(out).get("status") or {})

    def cancel(self, job_id: str, run_dir: str) -> None:
        kubectl = require("kubectl", "the kubernetes backend cancels runs with kubectl")
        namespace, _, name = job_id.partition("/")
        run_tool(
            [kubectl, "delete", "job", name, "--namespace", namespace, "--ignore-not-found", "--wait=false"]
            + ["--cascade=foreground", f"--request-timeout={REQUEST_TIMEOUT}"],
            "cancelling the Kubernetes Job",
        )


def job_state(status: dict[str, Any]) -> str:
    """'queued', 'running' or 'ended' from a Job's status."""
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in status.get("conditions", [])):
        return "ended"
    if status.get("succeeded") or status.get("failed"):
        return "ended"
    if status.get("ready") or (status.get("active") and "ready" not in status):
        return "running"
    return "queued"  # no pod yet, or its pod is pending


def _mount(volume: dict[str, Any]) -> dict[str, Any]:
    mount = {"name": volume["name"], "mountPath": volume["mountPath"]}
    if volume.get("readOnly"):
        mount["readOnly"] = True
    return mount
