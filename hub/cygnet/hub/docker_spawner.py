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

    def apply_gpu(self, gpu):
        # Docker's device requests (as `docker run --gpus N`): the NVIDIA runtime picks the devices.
        config = {k: v for k, v in self.extra_host_config.items() if k != "device_requests"}
        if gpu and gpu.get("docker_count"):
            config["device_requests"] = [
                {"Driver": "nvidia", "Count": int(gpu["docker_count"]), "Capabilities": [["gpu"]]}
            ]
        self.extra_host_config = config
