# The multi-user service in Docker (docker/compose.hub.yaml): `cygnet hub` in one container,
# each user's session in a container of its own from the session image, through
# CygnetDockerSpawner. A site copies this file and changes what it needs: the authenticator
# above all (the embedded shared password is for trials).
from cygnet.core import contract

c = get_config()  # noqa: F821 - JupyterHub's config loader gives it

c.JupyterHub.spawner_class = "cygnet.hub.docker_spawner.CygnetDockerSpawner"
c.DockerSpawner.image = contract.SESSION_IMAGE.get()
# One network for the hub's container and the sessions: it suits a trial. A hub on the host
# itself (not in a container) can give each user a network of their own instead, which other
# users' sessions cannot reach: c.CygnetDockerSpawner.user_network = "cygnet-{username}", with
# c.JupyterHub.hub_ip and hub_connect_ip an address of the host (see the admin guide).
c.DockerSpawner.network_name = contract.NETWORK.get()
c.DockerSpawner.remove = True  # a stopped session's container goes; its home volume stays
c.DockerSpawner.notebook_dir = "/home/scientist"
c.DockerSpawner.volumes = {"cygnet-user-{username}": "/home/scientist"}
c.CygnetDockerSpawner.host_mounts = {"/cvmfs": "ro"}  # add "/eos": "rw" where EOS is mounted
# Sessions reach the hub and its share service by the hub container's name on the network.
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = "hub"
c.CygnetHub.shares_connect_url = "http://hub:8000/services/cygnet-shares/"
# The hub does not see the views root: list the views users may choose.
c.CygnetDockerSpawner.view_choices = [v for v in contract.VIEW_CHOICES.get().split(",") if v]
