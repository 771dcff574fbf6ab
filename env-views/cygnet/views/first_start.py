"""A first start with no views: `cygnet up` and `cygnet hub` build a view named 'default' from
the service's own Python (once), so a newcomer's kernels work with no configuration."""

import sys


def say(line):
    print(f"cygnet: {line}", file=sys.stderr, flush=True)


def ensure_default_view(roots, target_root):
    """Build 'default' under `target_root` unless a usable view exists under `roots` or there.
    Returns whether it built one."""
    from . import build_view, discover
    from .build import dask_requirements, spark_requirements, storage_requirements

    if any(v.usable for v in discover([*roots, target_root])):
        return False
    say(
        f"no usable software view under {', '.join(map(str, roots))}; building 'default' from this "
        "Python (first start only, a minute or two)"
    )
    build_view(
        target_root,
        "default",
        python=sys.executable,
        packages=spark_requirements() + storage_requirements() + dask_requirements(),
        progress=say,
    )
    return True
