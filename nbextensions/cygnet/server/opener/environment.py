"""env=1 links: the repository's own environment, built (or reused) on top of the default view,
so its notebooks open on a kernel that has what the repository asks for."""

from cygnet.core.errors import Unavailable
from cygnet.views import pick_default_view
from cygnet.views.custom import custom_env, find_requirements, limits_from


def link_environment(ksm, folder, progress):
    """Build or reuse the environment of the checkout at `folder`; its kernel's name."""
    from cygnet.kernels.specs import kernel_name

    config = ksm.cygnet
    base = pick_default_view(ksm.views(), config.default_view)
    if base is None:
        raise Unavailable("there is no usable view to build the repository's environment on")
    limits = limits_from(config)
    requirements = find_requirements(folder, limits.allowed_hosts)
    progress(f"environment: {requirements.source} on top of {base.name}")
    view, _ = custom_env(config.custom_envs_root, base, ksm.env_cache.get(base).env, requirements, limits, progress)
    ksm.views(fresh=True)  # listed at once, not at the next look for changes
    return kernel_name(view)
