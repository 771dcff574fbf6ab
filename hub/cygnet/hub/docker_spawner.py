"""`CygnetDockerSpawner`: DockerSpawner with Cygnet's form, each user's session a container of
the Cygnet session image with the host's CVMFS (and EOS) mounted in. Needs `dockerspawner`;
see docker/compose.hub.yaml and docker/hub_config.py."""

from dockerspawner import DockerSpawner
from traitlets import Dict, Unicode, default

from .spawner import CygnetSpawnerMixin


class CygnetDockerSpawner(CygnetSpawnerMixin, DockerSpawner):
    host_mounts = Dict(
        value_trait=Unicode(),
        default_value={"/cvmfs": "ro"},
        help="Folders of the host mounted into every session container at the same path, 'ro' or 'rw'.",
    ).tag(config=True)

    @default("cmd")
    def _singleuser(self):
        return ["jupyterhub-singleuser"]  # the session image's own command is `cygnet up`

    def apply_cygnet_options(self, options):
        super().apply_cygnet_options(options)
        volumes = dict(self.volumes)
        for path, mode in self.host_mounts.items():
            volumes[path] = {"bind": path, "mode": "rw" if mode == "rw" else "ro"}
        self.volumes = volumes
