"""The `cygnet-view` kernel provisioner: launches a view's kernel in the view's environment."""

import asyncio
import functools
import os
from importlib.metadata import entry_points

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Unicode

from cygnet.core.errors import CygnetError, Unavailable, as_http_error
from cygnet.views import find_view

from .isolation import env_script_path, kernel_environment, with_env_script


@functools.cache
def contributions():
    """What components contribute to kernels, from their entry points: package -> IPython
    extension every kernel loads (`cygnet.kernel_extensions`), and package -> function of the
    site's configuration giving environment variables (`cygnet.kernel_env`). Components are
    found, not named here."""
    extensions = {ep.name: ep.value for ep in entry_points(group="cygnet.kernel_extensions")}
    env = {ep.name: ep for ep in entry_points(group="cygnet.kernel_env")}
    return extensions, env


class ViewProvisioner(LocalProvisioner):
    view = Unicode(help="The view (<release>/<platform>) whose kernel this is.").tag(config=True)

    async def pre_launch(self, **kwargs):
        try:
            env = await asyncio.to_thread(self._kernel_env, kwargs.get("env") or os.environ)
        except CygnetError as e:
            self.log.warning("cygnet: kernel for view %s not started: %s", self.view, e)
            raise as_http_error(e) from e
        kwargs["env"] = env
        kwargs = await super().pre_launch(**kwargs)
        script = self._env_script()
        if script:
            kwargs["cmd"] = with_env_script(script, kwargs["cmd"])
        return kwargs

    def _env_script(self):
        """The user's environment script (absolute), checked; None when there is none."""
        manager = self.parent.kernel_spec_manager
        workspace = getattr(getattr(self.parent, "parent", None), "root_dir", None) or os.getcwd()
        try:
            return env_script_path(manager.cygnet.env_script, workspace)
        except CygnetError as e:
            self.log.warning("cygnet: kernel for view %s not started: %s", self.view, e)
            raise as_http_error(e) from e

    def _kernel_env(self, server_env):
        manager = getattr(self.parent, "kernel_spec_manager", None)
        if not hasattr(manager, "env_cache"):
            raise Unavailable(
                "the cygnet-view provisioner needs Cygnet's kernel spec manager: enable the cygnet.server extension"
            )
        config = manager.cygnet
        view = find_view(config.effective_views_roots(), self.view)
        if not view.usable:
            raise Unavailable(f"view {view.name} cannot run kernels: {view.reason}")
        resolved = manager.env_cache.get(view)  # sources setup.sh only on a cold cache
        if resolved.kernel_problem:
            raise Unavailable(resolved.kernel_problem)
        # Kernel-side components load first (when the site gives kernels them), then the site's.
        extensions, contributed = contributions()
        own = [extensions[p] for p in config.kernel_packages if p in extensions]
        env = kernel_environment(
            view,
            resolved.env,
            server_env,
            config.kernel_env_passthrough,
            kernel_path=manager.kernel_path(),
            extensions=own + list(config.kernel_extensions),
        )
        for package in config.kernel_packages:
            if package in contributed:
                env.update(contributed[package].load()(config))
        return env
