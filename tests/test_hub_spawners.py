"""Cygnet's form in front of the spawners real sites run: KubeSpawner (Zero to JupyterHub) and
DockerSpawner. What they would ask Kubernetes and Docker for is checked here, in process: the
pod's and container's limits, command, environment and mounts. Neither Kubernetes nor a Docker
daemon can run on these machines, so no pod or container is started (a kube-config pointing
nowhere lets KubeSpawner build its client without a cluster)."""

import asyncio

import pytest
from tornado import web

VIEW = "LCG_106/x86_64-el9-gcc13-opt"
CHOICE = {"view": VIEW, "cores": "2", "memory": "4G", "cluster": "none", "env_script": "env/setup.sh"}

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: nowhere
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
users: [{name: nobody, user: {token: none}}]
"""


@pytest.fixture
def kube(tmp_path, monkeypatch):
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    pytest.importorskip("kubespawner")
    from kubernetes_asyncio.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))  # read at import
    from cygnet.hub.kube_spawner import CygnetKubeSpawner

    async def make(**settings):
        spawner = CygnetKubeSpawner(_mock=True, view_choices=[VIEW], image="cygnet:test", **settings)
        spawner.user.id = 3
        return spawner

    return make


def test_a_kubernetes_pod_gets_the_choice_as_limits_environment_and_mounts(kube):
    async def pod():
        spawner = await kube(host_mounts={"/cvmfs": "ro", "/eos": "rw"})
        spawner.apply_cygnet_options(CHOICE)
        return await spawner.get_pod_manifest()

    manifest = asyncio.run(pod())
    container = manifest.spec.containers[0]
    assert container.resources.limits == {"cpu": 2.0, "memory": 4 * 2**30}
    args = (container.command or []) + (container.args or [])
    assert args[0] == "jupyterhub-singleuser", args
    assert f"--Cygnet.default_view={VIEW}" in args and "--Cygnet.spark_port_range=40060-40089" in args
    env = {e.name: e.value for e in container.env}
    assert env["CYGNET_VIEW_CHOSEN"] == VIEW and env["CYGNET_CORES"] == "2"
    assert env["CYGNET_ENV_SCRIPT"] == "env/setup.sh"
    mounts = {m.mount_path: m for m in container.volume_mounts}
    assert mounts["/cvmfs"].read_only is True and mounts["/eos"].read_only is False
    assert mounts["/cvmfs"].mount_propagation == "HostToContainer"
    paths = {v.host_path["path"] for v in manifest.spec.volumes if v.host_path}
    assert paths == {"/cvmfs", "/eos"}


def test_a_tampered_choice_never_reaches_kubernetes(kube):
    async def refused():
        spawner = await kube()
        with pytest.raises(web.HTTPError) as e:
            spawner.apply_cygnet_options({**CHOICE, "cores": "10000"})
        return e.value

    error = asyncio.run(refused())
    assert error.status_code == 400 and "cores must be one of" in error.log_message


def test_a_docker_container_gets_the_choice_and_the_views(tmp_path):
    pytest.importorskip("dockerspawner")
    from types import SimpleNamespace

    from cygnet.hub.docker_spawner import CygnetDockerSpawner

    user = SimpleNamespace(name="alice", id=3, url="/user/alice/", escaped_name="alice")
    mounts = {"/cvmfs": "ro", "/eos": "rw"}
    spawner = CygnetDockerSpawner(user=user, image="cygnet:test", view_choices=[VIEW], host_mounts=mounts)
    spawner.apply_cygnet_options(CHOICE)
    assert spawner.cmd == ["jupyterhub-singleuser"]
    assert spawner.cpu_limit == 2.0 and spawner.mem_limit == 4 * 2**30
    assert spawner.volumes["/eos"] == {"bind": "/eos", "mode": "rw"}
    assert spawner.volumes["/cvmfs"] == {"bind": "/cvmfs", "mode": "ro"}
    assert f"--Cygnet.default_view={VIEW}" in spawner.get_args()


def test_the_helm_values_and_the_compose_config_make_a_working_hub_config(monkeypatch):
    """What docker/helm/values.yaml and docker/hub_config.py give JupyterHub, run against a
    config object as the chart and `cygnet hub -f` run them (no cluster, no Docker)."""
    from pathlib import Path

    import yaml
    from traitlets.config import Config

    docker = Path(__file__).resolve().parent.parent / "docker"
    values = yaml.safe_load((docker / "helm" / "values.yaml").read_text())
    c = Config(values["hub"]["config"])
    exec(values["hub"]["extraConfig"]["cygnet"], {"c": c})  # noqa: S102 - the chart does the same
    service = next(s for s in c.JupyterHub.services if s["name"] == "cygnet-shares")
    assert service["url"] == "http://hub:8181" and service["environment"]["CYGNET_SHARES_BIND"] == "0.0.0.0"
    assert c.Spawner.environment["CYGNET_SHARES_SERVICE_URL"] == "http://proxy-public/services/cygnet-shares/"
    assert "access:services!service=cygnet-shares" in c.Spawner.server_token_scopes
    assert c.JupyterHub.spawner_class == "cygnet.hub.kube_spawner.CygnetKubeSpawner"
    ports = [p["port"] for p in values["hub"]["service"]["extraPorts"]]
    assert ports == [8181]

    monkeypatch.setenv("CYGNET_VIEW_CHOICES", "LCG_106/x86_64-el9-gcc13-opt")
    c = Config()
    exec((docker / "hub_config.py").read_text(), {"get_config": lambda: c})  # noqa: S102
    assert c.JupyterHub.spawner_class == "cygnet.hub.docker_spawner.CygnetDockerSpawner"
    assert c.CygnetDockerSpawner.view_choices == ["LCG_106/x86_64-el9-gcc13-opt"]


@pytest.mark.parametrize("form", ["assigned", "appended"])
def test_a_sites_hub_file_that_appends_keeps_its_entries_beside_cygnets(tmp_path, monkeypatch, form):
    """Sites write `c.JupyterHub.services.append(...)` as often as `= [...]`: both keep the site's
    entries, and Cygnet's (the shares service, its roles, the kept variables) are added beside."""
    from traitlets.config import Config

    from cygnet.hub.setup import configure

    monkeypatch.setenv("CYGNET_HUB_DIR", str(tmp_path / "hub"))
    c = Config()
    c.Cygnet.build_default_view = False  # no view here: configure would build one (test_hub_e2e does)
    mine = {"name": "site-monitor", "url": "http://127.0.0.1:9"}
    role = {"name": "site-monitor", "services": ["site-monitor"], "scopes": ["read:users"]}
    if form == "assigned":
        c.JupyterHub.services = [mine]
        c.JupyterHub.load_roles = [role]
        c.Spawner.env_keep = ["SITE_VAR"]
        c.Spawner.environment = {"SITE": "1"}
    else:
        c.JupyterHub.services.append(mine)
        c.JupyterHub.load_roles.append(role)
        c.Spawner.env_keep.append("SITE_VAR")
        c.Spawner.environment.update({"SITE": "1"})
    configure(c)
    names = [s["name"] for s in c.JupyterHub.services]
    assert "site-monitor" in names and "cygnet-shares" in names, names
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert "site-monitor" in roles and "access:services!service=cygnet-shares" in roles["user"]["scopes"]
    assert "SITE_VAR" in c.Spawner.env_keep
    if form == "appended":  # added to Cygnet's own list, not to JupyterHub's
        assert "CYGNET_VIEWS_PATH" in c.Spawner.env_keep
    assert c.Spawner.environment["SITE"] == "1" and "CYGNET_SHARES_SERVICE_URL" in c.Spawner.environment
    # Session sharing: users and each session's token may share (their own servers) by name.
    for scopes in (roles["user"]["scopes"], c.Spawner.server_token_scopes):
        assert {"shares!user", "read:users:name"} <= set(scopes), scopes
    assert "access:servers!server" in c.Spawner.server_token_scopes


def test_a_site_can_keep_session_sharing_off(tmp_path, monkeypatch):
    from traitlets.config import Config

    from cygnet.hub.setup import configure

    monkeypatch.setenv("CYGNET_HUB_DIR", str(tmp_path / "hub"))
    c = Config()
    c.Cygnet.build_default_view = False
    c.CygnetHub.session_sharing = False
    configure(c)
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert "shares!user" not in roles["user"]["scopes"] and "shares!user" not in c.Spawner.server_token_scopes


def test_the_form_explains_each_field_and_describes_each_view():
    from cygnet.core.config import Cygnet
    from cygnet.core.errors import BadInput
    from cygnet.hub.form import render_form
    from cygnet.hub.options import SiteChoices, check_options, site_choices

    views = [VIEW, "LCG_107/x86_64-el9-gcc13-opt", "dev3/x86_64-el9-gcc13-opt"]
    choices = site_choices(
        Cygnet(), views=views, descriptions={"LCG_107": "ROOT 6.34, Python 3.11", VIEW: "the old one"}
    )
    form = render_form(choices, choices.defaults())
    assert "LCG_107 / x86_64-el9-gcc13-opt \N{EM DASH} ROOT 6.34, Python 3.11" in form
    assert "LCG_106 / x86_64-el9-gcc13-opt \N{EM DASH} the old one" in form
    assert ">dev3 / x86_64-el9-gcc13-opt</option>" in form  # no description: the name alone
    for field in ("view", "cores", "memory", "cluster", "env_script", "open"):
        assert f'id="cygnet-{field}-help"' in form, f"{field} has no explanation"
    # A site with no view: the refusal says what its administrators do about it.
    with pytest.raises(BadInput, match="cygnet views build default"):
        check_options({}, SiteChoices(views=[]))


GPUS = [
    {"name": "a100", "label": "One NVIDIA A100", "slurm_gres": "gpu:a100:1", "kubernetes": {"nvidia.com/gpu": 1}},
    {"name": "mig-1g", "label": "A100 slice (1g.10gb)", "kubernetes": {"nvidia.com/mig-1g.10gb": 1}, "docker_count": 1},
    {"name": "h100", "slurm_gres": "gpu:h100:1", "groups": ["gpu-users"]},
]


def test_gpu_choices_become_each_spawners_own_request_and_only_a_members_choice_is_taken(kube):
    async def pods():
        spawner = await kube(gpu_choices=GPUS)
        form = spawner.options_form(spawner)
        spawner.apply_cygnet_options({**CHOICE, "gpu": "mig-1g"})
        with_gpu = await spawner.get_pod_manifest()
        spawner.apply_cygnet_options({**CHOICE, "gpu": "none"})
        without = await spawner.get_pod_manifest()
        with pytest.raises(web.HTTPError) as refused:
            spawner.apply_cygnet_options({**CHOICE, "gpu": "h100"})  # the test user is in no group
        return form, with_gpu, without, refused.value, spawner

    form, with_gpu, without, refused, spawner = asyncio.run(pods())
    assert 'id="cygnet-gpu"' in form and ">No GPU</option>" in form and ">A100 slice (1g.10gb)</option>" in form
    assert "h100" not in form, "a choice limited to a group is not offered to others"
    assert with_gpu.spec.containers[0].resources.limits["nvidia.com/mig-1g.10gb"] == "1"
    env = {e.name: e.value for e in with_gpu.spec.containers[0].env}
    assert env["CYGNET_GPU"] == "mig-1g"
    assert "nvidia.com/mig-1g.10gb" not in without.spec.containers[0].resources.limits
    assert refused.status_code == 400 and "not one of the GPU choices this site offers you" in refused.log_message
    # A member of the group may take it.
    spawner.user.groups = [type("Group", (), {"name": "gpu-users"})()]
    spawner.apply_cygnet_options({**CHOICE, "gpu": "h100"})
    assert spawner.environment["CYGNET_GPU"] == "h100"


def test_a_docker_container_asks_for_its_gpus_as_device_requests():
    pytest.importorskip("dockerspawner")
    from types import SimpleNamespace

    from cygnet.hub.docker_spawner import CygnetDockerSpawner

    user = SimpleNamespace(name="alice", id=3, url="/user/alice/", escaped_name="alice", groups=[])
    spawner = CygnetDockerSpawner(user=user, image="cygnet:test", view_choices=[VIEW], gpu_choices=GPUS)
    spawner.apply_cygnet_options({**CHOICE, "gpu": "mig-1g"})
    requests = spawner.extra_host_config["device_requests"]
    assert requests == [{"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]}]
    spawner.apply_cygnet_options({**CHOICE, "gpu": "none"})
    assert "device_requests" not in spawner.extra_host_config


@pytest.mark.parametrize(
    ("spawner", "package"),
    [
        ("cygnet.hub.docker_spawner.CygnetDockerSpawner", "dockerspawner"),
        ("cygnet.hub.kube_spawner.CygnetKubeSpawner", "kubespawner"),
        ("dockerspawner.DockerSpawner", "dockerspawner"),  # a site's own, without Cygnet's mixin
    ],
)
def test_sessions_in_images_get_neither_the_hubs_paths_nor_its_environment(tmp_path, monkeypatch, spawner, package):
    """The hub's own jupyterhub-singleuser path and PATH mean nothing in a session image: the
    image's command and environment stay (set for the local spawners, they broke every spawn)."""
    from traitlets.config import Config

    from cygnet.hub.setup import configure

    pytest.importorskip(package)
    monkeypatch.setenv("CYGNET_HUB_DIR", str(tmp_path / "hub"))
    c = Config()
    c.Cygnet.build_default_view = False
    c.JupyterHub.spawner_class = spawner
    configure(c)
    assert "cmd" not in c.Spawner and "env_keep" not in c.Spawner, c.Spawner


def test_sessions_started_at_once_get_distinct_ports_outside_the_ephemeral_range(monkeypatch):
    """JupyterHub's own pick of a free port (bind(0)) can hand two sessions started at once the
    same one, from the range outgoing connections take theirs from."""
    from cygnet.core import loopback
    from cygnet.core.loopback import KERNELS_FROM, LOWEST
    from cygnet.hub import spawner

    monkeypatch.setattr(spawner, "_PORTS_HANDED_OUT", {})
    # Every pick tries the same ports in the same order: only the ports handed out keep them apart.
    monkeypatch.setattr(loopback.random, "sample", lambda population, k: list(population)[:k])
    ports = [spawner.distinct_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(LOWEST <= port < KERNELS_FROM for port in ports), ports


def test_a_start_waits_for_its_own_server_not_another_sessions_on_its_port():
    """A real HTTP server on the port: the session's own path answers 200 (the start returns); a
    server that answers 404 there is another session's, and once the session's process has
    exited the start fails instead of passing that server off as the session's."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace

    from cygnet.hub.spawner import CygnetSpawnerMixin

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200 if self.path == "/user/mine/api" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]

    def session(base_url, exited):
        async def poll():
            return 1 if exited else None

        return SimpleNamespace(server=SimpleNamespace(base_url=base_url), http_timeout=30, poll=poll)

    try:
        asyncio.run(CygnetSpawnerMixin.until_listening(session("/user/mine/", False), ("127.0.0.1", port)))
        with pytest.raises(web.HTTPError, match="exited before it answered"):
            asyncio.run(CygnetSpawnerMixin.until_listening(session("/user/other/", True), ("127.0.0.1", port)))
    finally:
        httpd.shutdown()


def test_the_hubs_own_sqlite_database_commits_without_an_fsync_each(tmp_path, monkeypatch):
    """JupyterHub commits on its event loop: `cygnet hub`'s default database runs in WAL mode with
    synchronous=NORMAL (cygnet.hub.hub_db), so a commit does not wait for the disk while sessions
    start; another SQLite database in the process is left as it is."""
    from sqlalchemy import create_engine, text
    from traitlets.config import Config

    from cygnet.hub.setup import configure

    monkeypatch.setenv("CYGNET_HUB_DIR", str(tmp_path / "hub"))
    c = Config()
    c.Cygnet.build_default_view = False
    configure(c)
    ours = create_engine(c.JupyterHub.db_url)
    with ours.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    ours.dispose()
    other = create_engine(f"sqlite:///{tmp_path / 'site.sqlite'}")
    with other.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "delete"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL, SQLite's default
    other.dispose()


def test_a_session_starts_without_the_hubs_database_models_and_its_checks_still_work():
    """`cygnet-singleuser` loads the hub's ORM models only on first use (a single-user server
    never uses them: 0.3 s of every spawn) and stands in for the hub's page handlers; the
    session's scope checks and access log work as before, and the models load when asked for."""
    import subprocess
    import sys

    code = """
import sys
from cygnet.hub.singleuser import lighter_imports
lighter_imports()
from jupyterhub.singleuser.extension import JupyterHubSingleUser
from jupyterhub.log import log_request
from jupyterhub.services.auth import check_scopes
assert "sqlalchemy.orm" not in sys.modules, "the hub's ORM was imported"
assert check_scopes({"access:servers!user=ann"}, {"access:servers!user=ann"})
assert not check_scopes({"access:servers!user=ann"}, {"access:servers!user=bob"})
import jupyterhub.orm
assert jupyterhub.orm.User.__tablename__ == "users" and "sqlalchemy.orm" in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_jupyterlab_reads_its_version_in_a_cygnet_server_without_starting_node():
    """Importing JupyterLab's app read its version through AppOptions(), whose registry default
    runs `node yarn.js config --json` (0.37 s of every session's start, when Node.js is on the
    PATH); in Cygnet's processes it runs no program and gives the same version."""
    import subprocess
    import sys

    code = """
import subprocess
started = []
popen = subprocess.Popen.__init__
subprocess.Popen.__init__ = lambda self, args, *a, **k: (started.append(args), popen(self, args, *a, **k))[1]
from cygnet.core.imports import skip_slow_optional_imports
skip_slow_optional_imports()
import jupyterlab
from jupyterlab import commands, labapp
assert labapp.app_version == jupyterlab.__version__, labapp.app_version
assert started == [], started
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_local_session_starts_nicer_than_the_hub_in_its_home_without_python_between_fork_and_exec(
    tmp_path, monkeypatch
):
    """A real process started by CygnetLocalSpawner's launch: Popen gets no preexec_fn (one makes
    Popen fork the whole hub and wait on its loop while the child runs Python), and the process
    still runs in the user's home at the hub's niceness + session_nice, and so does its
    scheduling group where the kernel groups each session (autogroups)."""
    import json
    import os
    import subprocess
    import sys
    from types import SimpleNamespace

    from jupyterhub import spawner as jupyterhub_spawner

    from cygnet.hub.spawner import CygnetLocalSpawner, CygnetSpawnerMixin

    launched = []

    def popen(cmd, **kwargs):
        launched.append(kwargs)
        return subprocess.Popen(cmd, **kwargs)

    monkeypatch.setattr(jupyterhub_spawner, "Popen", popen)
    report = tmp_path / "report.json"
    hub = os.getpriority(os.PRIO_PROCESS, 0)
    probe = (  # reports once the hub has set its niceness (just after the start, at most 60 s)
        "import json, os, sys, time; deadline = time.monotonic() + 60\n"
        f"while os.getpriority(os.PRIO_PROCESS, 0) == {hub} and time.monotonic() < deadline: time.sleep(0.01)\n"
        "from cygnet.core.proc import autogroup_nice; group = autogroup_nice(os.getpid())\n"
        "report = {'nice': os.getpriority(os.PRIO_PROCESS, 0), 'group': group, 'cwd': os.getcwd()}\n"
        "json.dump(report, open(sys.argv[1], 'w'))"
    )
    home = tmp_path / "homes" / "ada"
    spawner = CygnetLocalSpawner(
        user=SimpleNamespace(name="ada", url="/user/ada/", escaped_name="ada"),
        cmd=[sys.executable, "-c", probe, str(report)],
        home_dir_template=str(home),
        session_nice=3,
    )
    spawner.get_args = list  # the probe is no server: neither its arguments nor its environment matter
    spawner.get_env = lambda: dict(os.environ)
    asyncio.run(super(CygnetSpawnerMixin, spawner).start())  # the launch, without the wait for a server
    assert spawner.proc.wait(timeout=60) == 0
    assert launched[0]["preexec_fn"] is None
    got = json.loads(report.read_text())
    assert (got["nice"], got["cwd"]) == (hub + 3, str(home))
    # A session is a scheduling group of its own under autogroups: the group runs nicer too.
    assert got["group"] in (None, hub + 3)
    assert home.stat().st_mode & 0o077 == 0  # made private
