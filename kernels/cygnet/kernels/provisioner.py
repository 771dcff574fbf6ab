"""The `cygnet-view` kernel provisioner: launches a view's kernel (its Python, or a kernel the
view ships) in the view's environment."""

import asyncio
import functools
import os
from importlib.metadata import entry_points

from jupyter_client.connect import LocalPortCache, port_names
from jupyter_client.provisioning import LocalProvisioner
from prometheus_client import Counter
from traitlets import Unicode

from cygnet.core.errors import CygnetError, NotFound, Unavailable, as_http_error
from cygnet.core.loopback import bindable, kernel_port
from cygnet.core.proc import run_nicer_soon

from .isolation import kernel_environment, with_requirements


@functools.cache
def contributions():
    """What components contribute to kernels, from their entry points: package -> IPython
    extension every kernel loads (`cygnet.kernel_extensions`), and package -> function of the
    site's configuration giving environment variables (`cygnet.kernel_env`). Components are
    found, not named here."""
    extensions = {ep.name: ep.value for ep in entry_points(group="cygnet.kernel_extensions")}
    env = {ep.name: ep for ep in entry_points(group="cygnet.kernel_env")}
    return extensions, env


KERNEL_STARTS = Counter("cygnet_kernel_starts", "Kernels started, by software view", ["view"])


class ViewProvisioner(LocalProvisioner):
    view = Unicode(help="The view (<release>/<platform>) whose kernel this is.").tag(config=True)
    kernel = Unicode("", help="The kernel spec the view ships, by folder name; empty for the view's Python.").tag(
        config=True
    )

    launched_env = None  # what this kernel was started with (the kernel pool compares it before a hand-over)

    async def pre_launch(self, **kwargs):
        try:
            env = await asyncio.to_thread(self.environment_for, kwargs.get("env") or os.environ)
        except CygnetError as e:
            self.log.warning("cygnet: kernel for view %s not started: %s", self.view, e)
            raise as_http_error(e) from e
        kwargs["env"] = self.launched_env = env
        self.choose_ports()  # on the loop: quick binds, and no two starts pick the same port
        KERNEL_STARTS.labels(self.view).inc()
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd, **kwargs):
        info = await super().launch_kernel(cmd, **kwargs)
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        if nice > 0 and self.pid:  # a session run nicer than its hub: its kernels too, in their own groups
            try:
                await run_nicer_soon(self.pid, nice)
            except OSError:  # gone already: its restarter sees to it
                pass
        return info

    def choose_ports(self):
        """The kernel's five ports, picked below the system's ephemeral range, apart from the
        ports servers pick (`cygnet.core.loopback.kernel_port`).
        jupyter_client's own pick binds port 0 and lets it go: until the kernel binds it, any
        process's outgoing connection or `bind(0)` can take it, and the kernel dies at its start.
        A restart keeps the ports unless one was taken meanwhile; then it gets new ones
        (jupyter_client would restart on the same taken ports until its restart limit and give
        the kernel up)."""
        manager = self.parent
        if manager.transport != "tcp" or not manager.cache_ports:
            return
        cache = LocalPortCache.instance()  # this process's kernels' ports, returned at their end
        old = [getattr(manager, name) for name in port_names]
        if self.ports_cached:
            if all(bindable(manager.ip, port, reuse_address=True) for port in old):
                return
            self.log.warning("cygnet: a port of kernel %s was taken; it restarts on new ports", manager.kernel_id)
            for port in old:
                cache.return_port(port)
            manager.cleanup_connection_file()  # written again with the new ports
        for name in port_names:
            port = kernel_port(manager.ip, avoid=cache.currently_used_ports)
            cache.currently_used_ports.add(port)
            setattr(manager, name, port)
        if self.ports_cached:
            for tell in getattr(manager.parent, "moved", ()):  # listeners on the old ports follow
                tell(manager.kernel_id)
        self.ports_cached = True

    def environment_for(self, server_env):
        """The environment this kernel gets, from the server's."""
        manager = getattr(self.parent, "kernel_spec_manager", None)
        if not hasattr(manager, "env_cache"):
            raise Unavailable(
                "the cygnet-view provisioner needs Cygnet's kernel spec manager: enable the cygnet.server extension"
            )
        config = manager.cygnet
        view = next((v for v in manager.views() if v.name == self.view), None)
        if view is None:
            raise NotFound(f"view {self.view} is no longer under the views roots")
        if not view.usable:
            raise Unavailable(f"view {view.name} cannot run kernels: {view.reason}")
        resolved = manager.environment(view)  # sources setup.sh (and the user's script) on a cold cache only
        if resolved.kernel_problem and not self.kernel:  # ipykernel matters to its Python only
            raise Unavailable(resolved.kernel_problem)
        # Kernel-side components load first (when the site gives kernels them), then the site's.
        extensions, contributed = contributions()
        packages = with_requirements(config.kernel_packages)
        own = [extensions[p] for p in packages if p in extensions]
        env = kernel_environment(
            view,
            resolved.env,
            server_env,
            config.kernel_env_passthrough,
            kernel_path=manager.kernel_path(),
            extensions=own + list(config.kernel_extensions),
        )
        for package in packages:
            if package in contributed:
                env.update(contributed[package].load()(config))
        return env


def stable_environment(env):
    """A kernel's environment without what differs from one kernel to the next of the same view
    (Jupyter's JPY_* variables): what the kernel pool and warm jobs compare with `launched_env`."""
    return {k: v for k, v in (env or {}).items() if not k.startswith("JPY_")}
