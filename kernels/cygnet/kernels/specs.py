"""A kernel spec for every usable view, and for every kernel a view ships (R, Octave, ROOT's
C++...), served by jupyter_client's own extension point from one cached discovery pass."""

import asyncio
import functools
import os
import re
from functools import cached_property

from ipykernel.kernelspec import RESOURCES
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_server.utils import url_path_join
from tornado.web import HTTPError
from traitlets import Instance, default

from cygnet.core.config import Cygnet
from cygnet.core.errors import NotFound, Unavailable, as_http_error
from cygnet.views import EnvironmentCache, ViewsIndex, pick_default_view

from .isolation import env_script_path, kernel_environment, kernel_side_path

EXTENSION = "cygnet.kernels.kernel_extension"
NATIVE_NAME = "python3"


def kernel_name(view):
    """A valid, stable kernel name for a view: 'LCG_105a/x86_64-el9' -> 'lcg_105a__x86_64-el9'."""
    return re.sub(r"[^a-z0-9._-]", "_", f"{view.release}__{view.platform}".lower())


@functools.lru_cache(maxsize=4096)
def _resource_files(resource_dir):
    try:
        return tuple(sorted(os.listdir(resource_dir)))
    except OSError:
        return ()


def _resources(base_url, name, resource_dir):
    """The resources part of Jupyter's kernel spec model: logos, kernel.js and kernel.css."""
    found = {}
    for file in _resource_files(resource_dir):
        stem = os.path.splitext(file)[0]
        if file in ("kernel.js", "kernel.css") or file.startswith("logo-"):
            found[file if file in ("kernel.js", "kernel.css") else stem] = url_path_join(
                base_url, "kernelspecs", name, file
            )
    return found


def shipped_kernel_name(view, shipped):
    """'LCG_106/x86_64-el9' + its 'ir' spec -> 'lcg_106__x86_64-el9__ir'."""
    return f"{kernel_name(view)}__{re.sub(r'[^a-z0-9._-]', '_', shipped.name.lower())}"


def spark_capable(language, metadata=None):
    """Spark is offered to Python kernels, and to others whose spec says they can use it."""
    return language.lower() == "python" or bool(((metadata or {}).get("cygnet") or {}).get("spark"))


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
                "spark": True,
            },
            "debugger": True,
        },
    )


def shipped_kernel_spec(view, shipped):
    """The spec of a kernel the view ships, launched by the cygnet-view provisioner in the
    view's environment (the same isolation as its Python kernel)."""
    return KernelSpec(
        argv=list(shipped.argv),
        display_name=f"{shipped.display_name} ({view.release} {view.platform})",
        language=shipped.language,
        interrupt_mode=shipped.interrupt_mode,
        env=dict(shipped.env),
        resource_dir=shipped.resource_dir,
        metadata={
            **shipped.metadata,
            "kernel_provisioner": {
                "provisioner_name": "cygnet-view",
                "config": {"view": view.name, "kernel": shipped.name},
            },
            "cygnet": {
                "view": view.name,
                "release": view.release,
                "platform": view.platform,
                "kernel": shipped.name,
                "spark": spark_capable(shipped.language, shipped.metadata),
            },
        },
    )


def view_kernels(view):
    """Every kernel of a view as {name, display_name, language, usable, reason}: its Python
    first, then what it ships. For listings."""
    python = {
        "name": kernel_name(view),
        "display_name": f"Python 3 ({view.release} {view.platform})",
        "language": "python",
        "usable": view.usable,
        "reason": view.reason,
    }
    shipped = [
        {
            **k.to_dict(),
            "name": shipped_kernel_name(view, k),
            "display_name": f"{k.display_name} ({view.release} {view.platform})",
        }
        for k in view.kernels
    ]
    return [python, *shipped]


class UnknownKernel(NoSuchKernel, HTTPError):
    """NoSuchKernel for the callers that catch it, and a 404 naming the kernel for REST clients:
    jupyter_server's POST /api/kernels reports any other exception as 'Unhandled error'."""

    def __init__(self, name):
        HTTPError.__init__(self, 404, f"no kernel named {name!r} here: not a kernel of any view under the views roots")
        NoSuchKernel.__init__(self, name)


class CygnetKernelSpecManager(KernelSpecManager):
    """Lists the kernels of every usable view (and, if the site keeps them, Jupyter's own specs)
    from one discovery pass, kept until the views roots change (`ViewsIndex`)."""

    cygnet = Instance(Cygnet)
    env_cache = Instance(EnvironmentCache)

    @default("cygnet")
    def _default_cygnet(self):
        return Cygnet(parent=self)

    @default("env_cache")
    def _default_env_cache(self):
        return EnvironmentCache(self.cygnet.cache_dir, self.cygnet.view_setup_timeout)

    _kept_models = None  # (the discovery pass and problems they were built from, {name: model})

    @cached_property
    def index(self):
        return ViewsIndex(self.cygnet.effective_views_roots())

    def views(self, fresh=False):
        return self.index.views(self.env_cache.known_problems(), fresh=fresh)

    def catalogue(self, fresh=False):
        """Kernel name -> (view, ShippedKernel or None for the view's Python), for usable views."""
        entries = {}
        for view in self.views(fresh=fresh):
            if view.usable:
                entries[kernel_name(view)] = (view, None)
                entries.update({shipped_kernel_name(view, k): (view, k) for k in view.kernels})
        return entries

    def default_kernel_name(self):
        view = pick_default_view(self.views(), self.cygnet.default_view)
        return kernel_name(view) if view else None

    def find_kernel_specs(self):
        specs = super().find_kernel_specs() if self.cygnet.keep_native_kernels else {}
        specs.update(
            {name: self._resource_dir(view, k) for name, (view, k) in self.catalogue().items() if not k or k.usable}
        )
        return specs

    async def get_all_specs(self):
        """Every spec as the REST model Jupyter serves, built once per discovery pass (Jupyter
        would otherwise build each model in a thread of its own, hundreds per listing); the
        pass's freshness is checked off the event loop."""
        models = await asyncio.to_thread(self._models)
        specs = await asyncio.to_thread(super().get_all_specs) if self.cygnet.keep_native_kernels else {}
        return {**specs, **models}

    def _models(self):
        passed, problems = self.index.views(), sorted(self.env_cache.known_problems().items())
        kept = self._kept_models
        if kept and kept[0] is passed and kept[1] == problems:
            return kept[2]
        _resource_files.cache_clear()
        base_url = getattr(self.parent, "base_url", "/")
        models = {}
        for name, (view, shipped) in self.catalogue().items():
            if shipped and not shipped.usable:
                continue  # listed with its reason by /cygnet/api/views; a start says why
            spec = shipped_kernel_spec(view, shipped) if shipped else view_kernel_spec(view)
            models[name] = {
                "name": name,
                "spec": spec.to_dict(),
                "resources": _resources(base_url, name, spec.resource_dir),
            }
        self._kept_models = (passed, problems, models)
        return models

    def get_kernel_spec(self, kernel_name_):
        try:
            view, shipped = self.kernel_for(kernel_name_)
        except NoSuchKernel:
            raise UnknownKernel(kernel_name_) from None
        if view is None:
            return super().get_kernel_spec(kernel_name_)
        if not view.usable:
            raise as_http_error(Unavailable(f"view {view.name} cannot run kernels: {view.reason}"))
        if shipped is None:
            return view_kernel_spec(view)
        if not shipped.usable:
            raise as_http_error(
                Unavailable(f"kernel {shipped.name} of view {view.name} cannot start: {shipped.reason}")
            )
        return shipped_kernel_spec(view, shipped)

    def view_for_kernel(self, name):
        """The view behind a kernel name, None for a native kernel, or NoSuchKernel."""
        return self.kernel_for(name)[0]

    def kernel_for(self, name):
        """(view, ShippedKernel or None) behind a kernel name; (None, None) for a native kernel,
        or NoSuchKernel. Without native kernels, 'python3' (most notebooks' kernel) means the
        default view's Python. A name not in the kept pass makes it look for changes first."""
        name = name.lower()
        for fresh in (False, True):
            entries = self.catalogue(fresh=fresh)
            if name in entries:
                return entries[name]
            broken = next((v for v in self.views() if kernel_name(v) == name), None)
            if broken is not None:
                return broken, None
        if self.cygnet.keep_native_kernels:
            return None, None
        if name == NATIVE_NAME and (view := pick_default_view(self.views(), self.cygnet.default_view)):
            return view, None
        raise NoSuchKernel(name)

    @staticmethod
    def _resource_dir(view, shipped):
        return shipped.resource_dir if shipped else RESOURCES

    def kernel_path(self):
        return kernel_side_path(self.cygnet.kernel_packages, self.cygnet.data_dir)

    def workspace(self):
        return getattr(self.parent, "root_dir", None) or os.getcwd()

    def environment(self, view):
        """The view's resolved environment, with the user's environment script (configured as a
        path in the workspace) sourced after setup.sh."""
        return self.env_cache.get(view, script=env_script_path(self.cygnet.env_script, self.workspace()))

    def view_environment(self, name="", server_env=None):
        """What a process of view `name` (default: the default view) runs with, as its kernels
        do: {view, python, env}. For processes the server starts on the user's behalf (managed
        Spark servers, terminals)."""
        views = self.views()
        view = next((v for v in views if v.name == name), None) if name else None
        view = view or (None if name else pick_default_view(views, self.cygnet.default_view))
        if view is None:
            raise (NotFound(f"no view {name}") if name else Unavailable("no usable view here"))
        if not view.usable:
            raise Unavailable(f"view {view.name} cannot run kernels: {view.reason}")
        resolved = self.environment(view)
        env = kernel_environment(
            view,
            resolved.env,
            os.environ if server_env is None else server_env,
            self.cygnet.kernel_env_passthrough,
            kernel_path=self.kernel_path(),
        )
        return {"view": view.name, "python": str(view.python), "env": env}
