"""`CygnetDockerSpawner`: DockerSpawner with Cygnet's form, each user's session a container of
the Cygnet session image with the host's CVMFS (and EOS) mounted in. Works with Docker and with
podman's Docker-compatible API (`podman system service`). Needs `dockerspawner`; see
docker/compose.hub.yaml and docker/hub_config.py."""

import docker.errors
from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Dict, Unicode

from .spawner import CygnetContainerMixin


class CygnetDockerSpawner(CygnetContainerMixin, DockerSpawner):
    user_network = Unicode(
        "",
        help="Run each user's sessions on a network of their own, named by this template "
        "({username}; e.g. 'cygnet-{username}'), made at the user's first start as an isolated "
        "bridge (user_network_options): one user's sessions cannot reach another's ports, and all "
        "reach the hub at JupyterHub.hub_connect_ip, which must be an address of the hub's host "
        "(not 127.0.0.1). Empty: every session on network_name, where sessions reach each other.",
    ).tag(config=True)
    user_network_options = Dict(
        {"isolate": "true"},
        help="Driver options of each user's network. podman's bridge drops traffic between "
        "networks only with isolate=true; Docker isolates user-defined bridges from each other "
        "by default.",
    ).tag(config=True)

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

    async def start(self):
        if self.user_network:
            self.network_name = await self.ensure_user_network()
            self.use_internal_ip = True  # the proxy reaches the session on its network
        try:
            return await super().start()
        except docker.errors.ImageNotFound as error:  # an HTTPError is shown on the spawn page, at once
            raise web.HTTPError(
                500,
                f"the session image {self.image} is not on the container host ({error.explanation}); "
                "the site builds or pulls it there",
            ) from error

    async def ensure_user_network(self):
        """The user's own network, made if it is not there yet (a user's named servers share it)."""
        name = self.user_network.format(**self.template_namespace())
        found = await self.docker("networks", names=[name])
        if any(network["Name"] == name for network in found):  # the name filter matches parts too
            return name
        try:
            await self.docker("create_network", name, driver="bridge", options=self.user_network_options)
        except docker.errors.APIError as error:
            if error.status_code != 409:  # 409: another server of the user made it just now
                raise RuntimeError(f"could not make the session's network {name}: {error.explanation}") from error
        self.log.info("Made the network %s for %s's sessions", name, self.user.name)
        return name
