"""What a kernel inherits: its view's environment, a short allow-list from the server, and the
kernel-side Cygnet packages, but none of the service's own site-packages (as SWAN's
swankernelenv does)."""

import fnmatch
import hashlib
import importlib.util
import os
from pathlib import Path

from cygnet.core import contract
from cygnet.core.errors import BadInput


def kernel_environment(view, view_env, server_env, passthrough, kernel_path=None, extensions=()):
    """The environment of a kernel of `view`: the server's variables named by `passthrough`
    (shell-style patterns), overridden by everything the view's environment sets."""
    env = {k: v for k, v in server_env.items() if any(fnmatch.fnmatchcase(k, p) for p in passthrough)}
    env.update(view_env)
    if kernel_path:
        # Appended, so the view's own packages win over anything of Cygnet's.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [view_env.get("PYTHONPATH"), str(kernel_path)]))
    env[contract.VIEW.name] = view.name
    env[contract.VIEW_PATH.name] = str(view.path)
    env[contract.KERNEL_EXTENSIONS.name] = ",".join(extensions)
    return env


# Single-module libraries kernel-side code uses, linked beside the Cygnet packages (appended to
# the kernel's path, so a view's own copy wins): findspark finds a view's SPARK_HOME.
KERNEL_LIBRARIES = ("findspark",)


def with_requirements(packages):
    """`packages` and every kernel-side package they need (each package's KERNEL_REQUIRES), in
    order: a site that gives kernels only cygnet.dask still gets the compute layer it uses."""
    ordered, queue = [], list(packages)
    while queue:
        name = queue.pop(0)
        if name in ordered:
            continue
        ordered.append(name)
        try:
            module = importlib.import_module(name)
        except (ImportError, ValueError):
            continue  # reported as not installed below
        queue.extend(getattr(module, "KERNEL_REQUIRES", ()))
    return ordered


def kernel_side_path(packages, data_dir, libraries=KERNEL_LIBRARIES):
    """A folder that makes exactly `packages` (such as 'cygnet.kernels') and the single-module
    `libraries` importable: links to their installed locations, under a `cygnet/` namespace with
    no __init__.py. Shared by all kernels; rebuilt under a new name whenever the set or the
    locations change."""
    links = {}
    for name in with_requirements(packages):
        parts = name.split(".")
        if len(parts) != 2 or parts[0] != "cygnet" or not parts[1].isidentifier():
            raise BadInput(f"kernel packages are Cygnet sub-packages such as 'cygnet.spark', not {name!r}")
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise BadInput(f"kernel package {name!r} is not an installed package")
        links[f"cygnet/{parts[1]}"] = os.path.realpath(list(spec.submodule_search_locations)[0])
    for name in libraries:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            links[f"{name}.py"] = os.path.realpath(spec.origin)

    digest = hashlib.sha256(repr(sorted(links.items())).encode()).hexdigest()[:16]
    target = Path(data_dir) / "kernel-path" / digest
    if target.is_dir():
        return target
    staging = target.with_name(f".{digest}.{os.getpid()}")
    (staging / "cygnet").mkdir(parents=True, exist_ok=True)
    for relative, location in links.items():
        link = staging / relative
        if not link.is_symlink():
            link.symlink_to(location, target_is_directory=os.path.isdir(location))
    try:
        staging.rename(target)
    except OSError:  # another process made it first
        if not target.is_dir():
            raise
    return target


def env_script_path(setting, workspace):
    """The user's environment script as an absolute path inside the workspace (None if unset);
    BadInput naming it when it is outside or missing."""
    if not setting:
        return None
    from cygnet.core.paths import confine

    path = confine(workspace, setting)
    if not path.is_file():
        raise BadInput(f"your environment script {setting} is not a file in your workspace")
    return str(path)
