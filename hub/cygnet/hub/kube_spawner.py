"""`CygnetKubeSpawner`: KubeSpawner (Zero to JupyterHub) with Cygnet's form, each user's session
a pod of the Cygnet session image, with the node's CVMFS and EOS mounted in. Needs
`jupyterhub-kubespawner` (the Z2JH hub image has it); see docker/helm/values.yaml."""

from kubespawner import KubeSpawner

from .spawner import CygnetContainerMixin

PREFIX = "cygnet-host-"


class CygnetKubeSpawner(CygnetContainerMixin, KubeSpawner):
    def mount_host_folders(self, mounts):
        self.volumes = [v for v in self.volumes if not v.get("name", "").startswith(PREFIX)]
        self.volume_mounts = [m for m in self.volume_mounts if not m.get("name", "").startswith(PREFIX)]
        for index, (path, mode) in enumerate(mounts):
            name = f"{PREFIX}{index}"
            # HostToContainer: automounted CVMFS repositories appear in pods started before them.
            self.volumes.append({"name": name, "hostPath": {"path": path, "type": "Directory"}})
            self.volume_mounts.append(
                {"name": name, "mountPath": path, "readOnly": mode != "rw", "mountPropagation": "HostToContainer"}
            )

    def apply_gpu(self, gpu):
        # Extended resources (a whole GPU, or a MIG slice by its resource name) are asked as limits;
        # Kubernetes sets the guarantee to the same count.
        resources = {str(k): str(v) for k, v in ((gpu or {}).get("kubernetes") or {}).items()}
        kept = {k: v for k, v in self.extra_resource_limits.items() if k not in getattr(self, "_cygnet_gpu", {})}
        self.extra_resource_limits = {**kept, **resources}
        self._cygnet_gpu = resources
