"""Sessions in per-user containers, spawned for real: a hub (as root) with CygnetDockerSpawner
against podman's Docker-compatible API, running the session image `make test-image` builds. Each
user's session is a container of the image on a network of the user's own, with the views root
mounted read-only (as CVMFS is) and a home volume that outlives the container. Sessions reach the
hub and its share service at an address of the host's (added to `lo` for the test, as a site's
hub host has one); one user's container cannot reach another's. The culler stops idle sessions
and their containers go.

Not part of `make test`: the image takes about 15 minutes to build. `make test-sites` builds it
and runs this module (about 3 minutes once the image is there); elsewhere it is skipped."""

import html

import pytest
import requests

from tests.support.cli import PLATFORM
from tests.support.hub import Hub
from tests.support.podman import IMAGE, PodmanAPI, box_view, hub_address_on_lo, why_not_available
from tests.support.views import kernel_name

pytestmark = [
    pytest.mark.hub,
    pytest.mark.sites,
    pytest.mark.skipif(bool(why_not_available()), reason=str(why_not_available())),
]

USERS = ("dana", "eli")  # names DockerSpawner keeps as they are (it escapes "-")
VIEW = "LCG_box"


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    api = PodmanAPI(tmp_path_factory.mktemp("podman")).start()
    yield api
    api.remove("container", *(f"jupyter-{u}" for u in USERS))
    api.remove("volume", *(f"cygnet-test-home-{u}" for u in USERS))
    api.remove("network", *(f"cygnet-test-{u}" for u in USERS))
    api.stop()


@pytest.fixture(scope="module")
def hub_address():
    with hub_address_on_lo() as address:
        yield address


@pytest.fixture(scope="module")
def box_views(tmp_path_factory):
    """A views root the containers see at the same path: a view whose Python is the image's."""
    root = tmp_path_factory.mktemp("box-views")
    box_view(root, VIEW, PLATFORM)
    return root


def test_each_user_gets_a_container_of_their_own_that_others_cannot_reach(tmp_path, podman, hub_address, box_views):
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.docker_spawner.CygnetDockerSpawner"\n'
        f"c.DockerSpawner.client_kwargs = {{'base_url': {podman.url!r}}}\n"
        f"c.DockerSpawner.image = {IMAGE!r}\n"
        "c.DockerSpawner.pull_policy = 'never'\n"
        "c.DockerSpawner.remove = True\n"
        "c.DockerSpawner.notebook_dir = '/home/scientist'\n"
        "c.DockerSpawner.volumes = {'cygnet-test-home-{username}': '/home/scientist'}\n"
        "c.DockerSpawner.start_timeout = 180\n"
        "c.CygnetDockerSpawner.user_network = 'cygnet-test-{username}'\n"
        f"c.CygnetDockerSpawner.host_mounts = {{{str(box_views)!r}: 'ro'}}\n"
        f"c.CygnetDockerSpawner.view_choices = ['{VIEW}/{PLATFORM}']\n"
        f"c.JupyterHub.hub_ip = {hub_address!r}\n"
        f"c.CygnetHub.shares_host = {hub_address!r}\n"
        "c.CygnetHub.cull_idle_timeout = 45\n"
        "c.CygnetHub.cull_every = 5\n"
        # Sessions tell the hub of their activity every 5 s (not 300), so the culler sees it.
        f"c.Spawner.environment = {{'CYGNET_VIEWS_PATH': {str(box_views)!r}, 'JUPYTERHUB_ACTIVITY_INTERVAL': '5'}}\n"
    )
    hub = Hub(tmp_path / "data", args=[f"--config={site}"]).start()
    try:
        webs, apis, addresses = {}, {}, {}
        for user in USERS:
            webs[user] = hub.login(user)
            hub.start_session(webs[user], user, {"view": f"{VIEW}/{PLATFORM}"}, timeout=240)
            apis[user] = hub.api(hub.token(webs[user], user))
            container = podman.inspect("container", f"jupyter-{user}")
            networks = container["NetworkSettings"]["Networks"]
            assert list(networks) == [f"cygnet-test-{user}"], networks
            addresses[user] = networks[f"cygnet-test-{user}"]["IPAddress"]
            mounts = {m["Destination"]: m for m in container["Mounts"]}
            assert mounts[str(box_views)]["RW"] is False, "the views root is read-only in the session"
            assert mounts["/home/scientist"]["Name"] == f"cygnet-test-home-{user}", mounts
            hub_api = next(
                e.split("=", 1)[1] for e in container["Config"]["Env"] if e.startswith("JUPYTERHUB_API_URL=")
            )
            network = podman.inspect("network", f"cygnet-test-{user}")
            assert network["options"] == {"isolate": "true"}, network

        dana, eli = USERS
        kernel = hub.kernel(dana, apis[dana].headers["Authorization"].split()[1], kernel_name(VIEW, PLATFORM))
        try:
            out = kernel.run(
                "import os, socket\n"
                "def reach(host, port):\n"
                "    try:\n"
                "        socket.create_connection((host, port), timeout=5).close()\n"
                "        return 'open'\n"
                "    except OSError as e:\n"
                "        return type(e).__name__\n"
                f"hub = {hub_api!r}.split('/')[2].rsplit(':', 1)\n"
                f"print(os.getuid(), os.environ['CYGNET_TEST_MARKER'], reach(hub[0], int(hub[1])),"
                f" reach({addresses[eli]!r}, 8888), os.path.exists({str(podman.socket)!r}))\n"
                "_ = open('note.txt', 'w').write('written in the container')\n",
                timeout=60,
            )
        finally:
            kernel.shutdown()
        uid, view, to_hub, to_other, sees_socket = out.split()
        assert (uid, view, to_hub) == ("1000", f"marker-{VIEW}", "open"), out
        assert to_other != "open", f"{dana}'s container reached {eli}'s session: {out}"
        assert sees_socket == "False", "the podman API socket is not in the session"

        # The session reaches the hub's share service; the share outlives the container.
        made = apis[dana].post(f"{hub.url}/user/{dana}/cygnet/api/shares", json={"path": "note.txt"}, timeout=60)
        assert made.status_code == 201, made.text
        share_url = made.json()["url"]

        # Idle sessions are culled: their containers go, their home volumes stay.
        for user in USERS:
            podman.wait_gone(f"jupyter-{user}")
        assert f"cygnet-test-home-{dana}" in podman.podman("volume", "ls", "--format", "{{.Name}}").split()
        assert "written in the container" in requests.get(share_url, timeout=30).text

        # The next session of the user finds the home as it was.
        hub.start_session(webs[dana], dana, {"view": f"{VIEW}/{PLATFORM}"}, timeout=240)
        note = apis[dana].get(f"{hub.url}/user/{dana}/api/contents/note.txt", timeout=30)
        assert note.status_code == 200 and note.json()["content"] == "written in the container", note.text
        hub.stop_session(apis[dana], dana, timeout=120)
        podman.wait_gone(f"jupyter-{dana}")
    finally:
        hub.stop()


def test_a_missing_session_image_fails_the_spawn_at_once_naming_it(tmp_path, podman, hub_address, box_views):
    site = tmp_path / "site_config.py"
    site.write_text(
        'c.JupyterHub.spawner_class = "cygnet.hub.docker_spawner.CygnetDockerSpawner"\n'
        f"c.DockerSpawner.client_kwargs = {{'base_url': {podman.url!r}}}\n"
        "c.DockerSpawner.image = 'localhost/cygnet:absent'\n"
        "c.DockerSpawner.pull_policy = 'never'\n"
        "c.CygnetDockerSpawner.user_network = 'cygnet-test-{username}'\n"
        f"c.CygnetDockerSpawner.view_choices = ['{VIEW}/{PLATFORM}']\n"
        f"c.JupyterHub.hub_ip = {hub_address!r}\n"
    )
    hub = Hub(tmp_path / "data", args=[f"--config={site}"]).start()
    try:
        web = hub.login(USERS[0])
        _, action = hub.spawn_form(web)
        answer = web.post(action, data={"view": f"{VIEW}/{PLATFORM}"}, timeout=120, allow_redirects=False)
        text = html.unescape(answer.text)  # the spawn page the user sees
        assert answer.status_code >= 400, answer.status_code
        assert "the session image localhost/cygnet:absent is not on the container host" in text, text[-2000:]
    finally:
        hub.stop()
