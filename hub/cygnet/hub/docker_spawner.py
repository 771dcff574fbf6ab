"""`CygnetDockerSpawner`: DockerSpawner with Cygnet's form, each user's session a container of
the Cygnet session image with the host's CVMFS (and EOS) mounted in. Needs `dockerspawner`;
see docker/compose.hub.yaml and docker/hub_config.py."""

from dockerspawner import DockerSpawner

from .spawner import CygnetContainerMixin


class CygnetDockerSpawner(CygnetContainerMixin, DockerSpawner):
    def mount_host_folders(self, mounts):
        self.volumes = {
            **self.volumes,
            **{path: {"bind": path, "mode": "rw" if mode == "rw" else "ro"} for path, mode in mounts},
        }
