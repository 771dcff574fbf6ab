"""Real sites, side by side in one run (medians over --runs), on a real single-node Slurm:

  Sessions on Slurm, form submit to the first execute_reply of a kernel in the session, the same
  JupyterHub and proxy on both sides, the user root (no accounts to make):
  (c0) batchspawner's plain SlurmSpawner with a plain JupyterLab server (Cygnet's extension off)
       and the venv's python3 kernel;
  (c) CygnetSlurmSpawner: Cygnet's form, the Cygnet server, a view's kernel.
  Goal: (c) within 1.2x of (c0).

  Dask on the batch system, from a fresh process, timed from before its imports to the first
  result on two workers ready:
  (a) plain dask-jobqueue: `SLURMCluster(cores=1, memory=...)` (its scheduler in the process),
      `scale(2)`, `wait_for_workers(2)`, a first result; workers run in the same view;
  (b) Cygnet's gateway with its Slurm backend (`CygnetHub.dask_gateway_backend = "slurm"`):
      `Gateway().new_cluster(view=...)` (the scheduler is a Slurm job too), `scale(2)`, the same.
Goal: (b) within 1.2x of (a).

  Sessions in containers, through podman's Docker API, the session image `make test-image`
  builds, the same hub and proxy on both sides, one returning user:
  (b0) DockerSpawner as a site would run it plain: the image's jupyterhub-singleuser with Cygnet's
       extension off, its python3 kernel, the user's network made beforehand;
  (b) CygnetDockerSpawner: Cygnet's form, the Cygnet server, a view's kernel, the user's own network.
  Goal: (b) within 1.2x of (b0). Skipped (said so) where podman or the image is missing.

The local-process spawner's row is bench/hub_spawn.py's. Jobs here run as root, as the benchmark
does; the test suite's tests/test_dask_slurm.py checks they run as the user.

    .venv/bin/python bench/sites.py [--runs 3] [--views DIR] [--only sessions|docker|dask]
Builds a view with Dask (about 30 s) unless --views names a root that has one. Needs root, and
Slurm and munge installed (`make test` installs them).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dask_compute import dask_view  # noqa: E402
from tests.support.dask_gateway import Gateway  # noqa: E402
from tests.support.slurm import Slurm, available  # noqa: E402

JOBQUEUE = """
import time; t = time.perf_counter()
from dask_jobqueue import SLURMCluster
from distributed import Client
cluster = SLURMCluster(
    cores=1, processes=1, memory="512MiB", python={python!r}, job_script_prologue=[{prologue!r}],
    scheduler_options={{"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}, local_directory={scratch!r},
    log_directory={scratch!r},
)
cluster.scale(2)
client = Client(cluster)
client.wait_for_workers(2, timeout=300)
assert client.submit(sum, [1, 2, 3]).result() == 6
print(time.perf_counter() - t)
client.close(); cluster.close()
"""

GATEWAY = """
import time; t = time.perf_counter()
from dask_gateway import Gateway, auth
gateway = Gateway({address!r}, proxy_address={proxy!r}, auth=auth.BasicAuth("root", ""))
cluster = gateway.new_cluster(view={view!r}, worker_cores=1, worker_memory=0.5)
cluster.scale(2)
client = cluster.get_client()
client.wait_for_workers(2, timeout=300)
assert client.submit(sum, [1, 2, 3]).result() == 6
print(time.perf_counter() - t)
client.close(); cluster.shutdown(); gateway.close()
"""


def fresh_process(code, env):
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return float(out.stdout.strip().splitlines()[-1])


def wait_until_no_jobs(slurm):
    from tests.support.waiting import wait_for

    def none():
        out = subprocess.run(["squeue", "--noheader"], capture_output=True, text=True, env={**os.environ, **slurm.env})
        return out.returncode == 0 and not out.stdout.strip()

    wait_for(none, "the previous run's Slurm jobs end", 120)


PLAIN_SLURM = """
c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
c.SlurmSpawner.exec_prefix = "runuser -u {{username}} --"
c.SlurmSpawner.req_srun = ""
c.SlurmSpawner.state_exechost_exp = "127.0.0.1"  # the node's name does not resolve here
c.SlurmSpawner.batchspawner_singleuser_cmd = {wrapper!r}
c.Spawner.cmd = [{plain_singleuser!r}]  # JupyterHub's own (Cygnet's hub would start cygnet-singleuser)
c.SlurmSpawner.environment = {{"SLURM_CONF": {slurm_conf!r}}}  # the test cluster's, as CygnetSlurmSpawner passes it
c.CygnetHub.shares = False
c.CygnetHub.runs = False
c.CygnetHub.cull_idle_timeout = 0
c.Spawner.args = ["--ServerApp.jpserver_extensions=cygnet.server=False", "--allow-root"]
"""
SLURM_HUB_CONFIG = """
c.JupyterHub.spawner_class = "cygnet.hub.slurm_spawner.CygnetSlurmSpawner"
c.CygnetHub.cull_idle_timeout = 0
"""


def sessions_part(runs, slurm, scratch):
    """Form submit to first execute_reply through a Slurm-spawning hub: plain and Cygnet's."""
    from bench.hub_spawn import Side
    from tests.support.hub import Hub
    from tests.support.views import built_kernel_site, kernel_name, lcg_view

    platform = "x86_64-bench"
    lcg_view(scratch / "views", "LCG_bench", platform, kernel_site=built_kernel_site(scratch / "built", platform))
    env = {"CYGNET_VIEWS_PATH": str(scratch / "views"), **slurm.env}
    wrapper = str(Path(sys.executable).parent / "batchspawner-singleuser")
    plain = PLAIN_SLURM.format(
        wrapper=wrapper,
        slurm_conf=slurm.env["SLURM_CONF"],
        plain_singleuser=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
    )
    configs = {"plain": plain, "cygnet": SLURM_HUB_CONFIG}
    times = {"plain": [], "cygnet": []}
    for name, config in configs.items():
        (scratch / f"{name}.py").write_text(config)
        hub = Hub(scratch / name / "data", env=env, args=[f"--config={scratch / name}.py", "--log-level=WARN"])
        hub.start()
        try:
            options = {"view": f"LCG_bench/{platform}", "cores": "1", "memory": "2G"} if name == "cygnet" else {}
            side = Side(name, hub, kernel_name("LCG_bench", platform) if name == "cygnet" else "python3", options)
            web = hub.login("root")
            user = ("root", web, hub.token(web, "root"))
            for run in range(runs + 1):  # the first warms the OS's caches: not counted
                try:
                    seconds = side.spawn_to_first_reply(user)
                except Exception as e:
                    raise RuntimeError(f"{name}: {e}\n{hub.log()[-3000:]}") from e
                side.stop(user)
                wait_until_no_jobs(slurm)
                if run:
                    times[name].append(seconds)
                    print(f"{name} spawn {run}: {seconds:.2f} s", flush=True)
        finally:
            hub.stop()
    return times


PLAIN_DOCKER = """
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.args = ["--ServerApp.jpserver_extensions=cygnet.server=False"]
c.DockerSpawner.network_name = "bench-plain"
c.DockerSpawner.use_internal_ip = True
"""
OURS_DOCKER = """
c.JupyterHub.spawner_class = "cygnet.hub.docker_spawner.CygnetDockerSpawner"
c.CygnetDockerSpawner.user_network = "bench-{{username}}"
c.CygnetDockerSpawner.host_mounts = {{{views!r}: "ro"}}
c.CygnetDockerSpawner.view_choices = [{view!r}]
c.Spawner.environment = {{"CYGNET_VIEWS_PATH": {views!r}}}
c.CygnetHub.shares_host = {address!r}
"""
DOCKER_COMMON = """
c.DockerSpawner.client_kwargs = {{"base_url": {socket!r}}}
c.DockerSpawner.image = {image!r}
c.DockerSpawner.pull_policy = "never"
c.DockerSpawner.remove = True
c.DockerSpawner.start_timeout = 180
c.JupyterHub.hub_ip = {address!r}
c.CygnetHub.cull_idle_timeout = 0
c.CygnetHub.runs = False
"""


def docker_part(runs, scratch):
    """Form submit to first execute_reply through a hub spawning containers: plain and Cygnet's."""
    from bench.hub_spawn import Side
    from tests.support.hub import Hub
    from tests.support.podman import IMAGE, PodmanAPI, box_view, hub_address_on_lo
    from tests.support.views import kernel_name

    platform = "x86_64-bench"
    box_view(scratch / "views", "LCG_box", platform)
    view = f"LCG_box/{platform}"
    podman = PodmanAPI(scratch / "podman").start()
    times = {"plain": [], "cygnet": []}
    try:
        podman.podman("network", "create", "--opt", "isolate=true", "bench-plain")
        with hub_address_on_lo() as address:
            common = DOCKER_COMMON.format(socket=podman.url, image=IMAGE, address=address)
            configs = {
                "plain": PLAIN_DOCKER + common,
                "cygnet": OURS_DOCKER.format(views=str(scratch / "views"), view=view, address=address) + common,
            }
            for name, config in configs.items():
                (scratch / f"{name}.py").write_text(config)
                hub = Hub(scratch / name / "data", args=[f"--config={scratch / name}.py", "--log-level=WARN"]).start()
                try:
                    options = {"view": view} if name == "cygnet" else {}
                    side = Side(name, hub, kernel_name("LCG_box", platform) if name == "cygnet" else "python3", options)
                    web = hub.login("bench")
                    user = ("bench", web, hub.token(web, "bench"))
                    for run in range(runs + 1):  # the first makes the network and warms caches: not counted
                        try:
                            seconds = side.spawn_to_first_reply(user)
                        except Exception as e:
                            raise RuntimeError(f"{name}: {e}\n{hub.log()[-3000:]}") from e
                        side.stop(user)
                        podman.wait_gone("jupyter-bench")
                        if run:
                            times[name].append(seconds)
                            print(f"docker {name} spawn {run}: {seconds:.2f} s", flush=True)
                finally:
                    hub.stop()
    finally:
        podman.remove("container", "jupyter-bench")
        podman.remove("network", "bench-plain", "bench-bench")
        podman.stop()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--views", help="a views root with a view built with --dask")
    parser.add_argument("--only", choices=["sessions", "docker", "dask"])
    args = parser.parse_args()
    if not available():
        sys.exit("bench/sites.py needs root, Slurm and munge (make test installs them)")
    if args.only in (None, "docker"):
        from tests.support.podman import why_not_available

        why = why_not_available()
        if why:
            print(f"\nSessions in containers: not measured ({why})")
        else:
            scratch = Path(tempfile.mkdtemp(prefix="sites-bench-"))
            try:
                times = docker_part(args.runs, scratch)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            plain, ours = statistics.median(times["plain"]), statistics.median(times["cygnet"])
            verdict = "met" if ours / plain <= 1.2 else "MISSED"
            print(
                f"\n| Sessions in containers (podman), form submit to first execute_reply | median ({args.runs} runs) |"
            )
            print("| --- | --- |")
            print(f"| (b0) DockerSpawner, plain JupyterLab in the image, python3 | {plain:.2f} s |")
            print(f"| (b) CygnetDockerSpawner, Cygnet's server, a view's kernel | {ours:.2f} s |")
            print(f"\n(b)/(b0) = {ours / plain:.2f} (goal <= 1.2: {verdict})")
    if args.only in (None, "sessions"):
        scratch = Path(tempfile.mkdtemp(prefix="sites-bench-"))
        slurm = Slurm(scratch / "slurm").start()
        try:
            times = sessions_part(args.runs, slurm, scratch)
        finally:
            slurm.stop()
            shutil.rmtree(scratch, ignore_errors=True)
        plain, ours = statistics.median(times["plain"]), statistics.median(times["cygnet"])
        verdict = "met" if ours / plain <= 1.2 else "MISSED"
        print(f"\n| Sessions on Slurm, form submit to first execute_reply | median ({args.runs} runs) |")
        print("| --- | --- |")
        print(f"| (c0) batchspawner SlurmSpawner, plain JupyterLab, python3 | {plain:.2f} s |")
        print(f"| (c) CygnetSlurmSpawner, Cygnet's server, a view's kernel | {ours:.2f} s |")
        print(f"\n(c)/(c0) = {ours / plain:.2f} (goal <= 1.2: {verdict})")
    if args.only in ("sessions", "docker"):
        return
    views, view, _ = dask_view(args.views)
    scratch = Path(tempfile.mkdtemp(prefix="sites-bench-"))
    slurm = Slurm(scratch / "slurm").start()
    gateway = Gateway(scratch / "gateway", [views], backend="slurm", env=slurm.env)
    name = f"{view.parent.name}/{view.name}"
    plain = JOBQUEUE.format(
        python=str(view / "bin" / "python"), prologue=f"source {view / 'setup.sh'}", scratch=str(scratch)
    )
    ours = GATEWAY.format(address=gateway.address, proxy=f"gateway://127.0.0.1:{gateway.proxy_port}", view=name)
    a, b = [], []
    try:
        for run in range(args.runs):
            a.append(fresh_process(plain, slurm.env))
            wait_until_no_jobs(slurm)
            b.append(fresh_process(ours, slurm.env))
            wait_until_no_jobs(slurm)
            print(f"run {run + 1}: jobqueue {a[-1]:.2f} s, gateway on Slurm {b[-1]:.2f} s", flush=True)
    finally:
        gateway.stop()
        slurm.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    ma, mb = statistics.median(a), statistics.median(b)
    verdict = "met" if mb / ma <= 1.2 else "MISSED"
    print(f"\n| Dask on Slurm, fresh process to a first result on 2 workers | median ({args.runs} runs) |")
    print("| --- | --- |")
    print(f"| (a) dask-jobqueue SLURMCluster (scheduler in the process) | {ma:.2f} s |")
    print(f"| (b) Cygnet's gateway, Slurm backend (scheduler as a job) | {mb:.2f} s |")
    print(f"\n(b)/(a) = {mb / ma:.2f} (goal <= 1.2: {verdict})")


if __name__ == "__main__":
    main()
