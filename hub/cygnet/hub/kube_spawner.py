"""`CygnetKubeSpawner`: KubeSpawner (Zero to JupyterHub) with Cygnet's form, each user's session
a pod of the Cygnet session image, with the node's CVMFS and EOS mounted in. Needs
`jupyterhub-kubespawner` (the Z2JH hub image has it); see docker/helm/values.yaml."""

from kubespawner import KubeSpawner
from traitlets import Dict, Unicode, default

from .spawner import CygnetSpawnerMixin


class CygnetKubeSpawner(CygnetSpawnerMixin, KubeSpawner):
    host_mounts = Dict(
        value_trait=Unicode(),
        default_value={"/cvmfs": "ro"},
        help="Folders of the node mounted into every session pod at the same path, 'ro' or 'rw': "
        "CVMFS for the views (read-only), a FUSE-mounted EOS (read-write), as SWAN mounts them.",
    ).tag(config=True)

    @default("cmd")
    def _singleuser(self):
        return ["jupyterhub-singleuser"]  # the session image's own command is `cygnet up`

    def apply_cygnet_options(self, options):
        super().apply_cygnet_options(options)
        self.volumes = [v for v in self.volumes if not v.get("name", "").startswith("cygnet-host-")]
        self.volume_mounts = [m for m in self.volume_mounts if not m.get("name", "").startswith("cygnet-host-")]
        for index, (path, mode) in enumerate(sorted(self.host_mounts.items())):
            name = f"cygnet-host-{index}"
            # HostToContainer: automounted CVMFS repositories appear in pods started before them.
            self.volumes.append({"name": name, "hostPath": {"path": path, "type": "Directory"}})
            self.volume_mounts.append(
                {"name": name, "mountPath": path, "readOnly": mode != "rw", "mountPropagation": "HostToContainer"}
            )
