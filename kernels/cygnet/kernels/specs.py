"""A kernel spec for every usable view, served by jupyter_client's own extension point."""

import os
import re

from ipykernel.kernelspec import RESOURCES
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from traitlets import Instance, default

from cygnet.core.config import Cygnet
from cygnet.core.errors import NotFound, Unavailable, as_http_error
from cygnet.views import EnvironmentCache, discover

from .isolation import kernel_side_path

EXTENSION = "cygnet.kernels.kernel_extension"
NATIVE_NAME = "python3"


def kernel_name(view):
    """A valid, stable kernel name for a view: 'LCG_105a/x86_64-el9' -> 'lcg_105a__x86_64-el9'."""
    return re.sub(r"[^a-z0-9._-]", "_", f"{view.release}__{view.platform}".lower())


def view_kernel_spec(view):
    """The spec whose kernel runs the view's own Python under the cygnet-view provisioner."""
    return KernelSpec(
        argv=[str(view.python), "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--ext={EXTENSION}"],
        display_name=f"Python 3 ({view.release} {view.platform})",
        language="python",
        interrupt_mode="signal",
        env={},
        resource_dir=RESOURCES,
        metadata={
            "kernel_provisioner": {"provisioner_name": "cygnet-view", "config": {"view": view.name}},
            "cygnet": {
                "view": view.name,
                "release": view.release,
                "platform": view.platform,
                "python_version": view.python_version,
            },
            "debugger": True,
        },
    )


def pick_default_view(views, preferred=""):
    """The configured default, else a usable view released as 'default', else the newest."""
    usable = [v for v in views if v.usable]
    for view in usable:
        if view.name == preferred or (not preferred and view.release == "default"):
            return view
    return usable[-1] if usable else None


class CygnetKernelSpecManager(KernelSpecManager):
    """Lists one kernel per usable view (and, if the site keeps them, Jupyter's own specs)."""

    cygnet = Instance(Cygnet)
    env_cache = Instance(EnvironmentCache)

    @default("cygnet")
    def _default_cygnet(self):
        return Cygnet(parent=self)

    @default("env_cache")
    def _default_env_cache(self):
        return EnvironmentCache(self.cygnet.cache_dir, self.cygnet.view_setup_timeout)

    def views(self):
        return discover(self.cygnet.effective_views_roots(), self.env_cache.known_problems())

    def default_kernel_name(self):
        view = pick_default_view(self.views(), self.cygnet.default_view)
        return kernel_name(view) if view else None

    def find_kernel_specs(self):
        specs = super().find_kernel_specs() if self.cygnet.keep_native_kernels else {}
        specs.update({kernel_name(v): RESOURCES for v in self.views() if v.usable})
        return specs

    def get_kernel_spec(self, kernel_name_):
        view = self.view_for_kernel(kernel_name_)
        if view is None:
            return super().get_kernel_spec(kernel_name_)
        if not view.usable:
            raise as_http_error(Unavailable(f"view {view.name} cannot run kernels: {view.reason}"))
        return view_kernel_spec(view)

    def view_for_kernel(self, name):
        """The view behind a kernel name, None for a native kernel, or NoSuchKernel.
        Without native kernels, 'python3' (most notebooks' kernel) means the default view."""
        views = self.views()
        for view in views:
            if kernel_name(view) == name.lower():
                return view
        if self.cygnet.keep_native_kernels:
            return None
        if name == NATIVE_NAME and (view := pick_default_view(views, self.cygnet.default_view)):
            return view
        raise NoSuchKernel(name)

    def kernel_path(self):
        return kernel_side_path(self.cygnet.kernel_packages, self.cygnet.data_dir)

    def view_environment(self, name=""):
        """What a process of view `name` (default: the default view) runs with, as its kernels
        do: {view, python, env}. For processes the server starts on the kernels' behalf."""
        from .isolation import kernel_environment

        views = self.views()
        view = next((v for v in views if v.name == name), None) if name else None
        view = view or (None if name else pick_default_view(views, self.cygnet.default_view))
        if view is None:
            raise (NotFound(f"no view {name}") if name else Unavailable("no usable view here"))
        if not view.usable:
            raise Unavailable(f"view {view.name} cannot run kernels: {view.reason}")
        resolved = self.env_cache.get(view)
        env = kernel_environment(
            view, resolved.env, os.environ, self.cygnet.kernel_env_passthrough, kernel_path=self.kernel_path()
        )
        return {"view": view.name, "python": str(view.python), "env": env}
