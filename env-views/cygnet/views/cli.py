"""`cygnet views list|show|build`."""

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from cygnet.core.config import load_config
from cygnet.core.errors import BadInput

from .build import build_view, dask_requirements, spark_requirements, storage_requirements
from .discovery import discover, find_view
from .environment import EnvironmentCache


def register(subparsers):
    views = subparsers.add_parser("views", help="list, inspect and build software views")
    sub = views.add_subparsers(dest="views_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the views found under the views roots")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_command)

    p = sub.add_parser("show", help="describe a view and what its setup.sh changes")
    p.add_argument("name", help="<release>/<platform>")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--refresh", action="store_true", help="source setup.sh again instead of using the cache")
    p.set_defaults(func=show_command)

    p = sub.add_parser(
        "build",
        help="build a view (a virtual environment with the LCG layout), or with --from a custom environment "
        "from a repository's requirements on top of a view",
    )
    p.add_argument("name", help="<release> (this machine's platform is added) or <release>/<platform>")
    p.add_argument(
        "--from",
        dest="source",
        metavar="REPO",
        help="a Git URL or local folder whose requirements.txt, pyproject.toml or environment.yml (pip "
        "section) to install, with uv, on top of --base",
    )
    p.add_argument(
        "--base", metavar="VIEW", help="the view a --from environment is built on (default: the default view)"
    )
    p.add_argument("--python", help="interpreter to build from (default: the server's)")
    p.add_argument("--packages", nargs="*", default=[], metavar="PKG", help="pip requirements to install")
    p.add_argument(
        "--system-site-packages", action="store_true", help="let the view see its interpreter's own packages"
    )
    p.add_argument(
        "--spark",
        action="store_true",
        help="add Spark for kernels (pyspark with Connect, pandas, sparkmonitor) at the server's versions",
    )
    p.add_argument(
        "--storage",
        action="store_true",
        help="add the XRootD client for kernels (xrootd, fsspec-xrootd) at the server's versions",
    )
    p.add_argument(
        "--dask",
        action="store_true",
        help="add Dask for kernels (distributed, dask-gateway, xarray, zarr, h5netcdf) at the server's versions",
    )
    p.add_argument("--root", help="views root to build in (default: Cygnet.local_views_root)")
    p.add_argument("--force", action="store_true", help="replace an existing view of that name")
    p.set_defaults(func=build_command)


def list_command(args, config_argv):
    config = load_config(config_argv)
    views = discover(config.effective_views_roots())
    if args.json:
        print(json.dumps([v.to_dict() for v in views], indent=2))
        return
    if not views:
        roots = ", ".join(map(str, config.effective_views_roots()))
        print(f"no views under {roots}; create one with `cygnet views build NAME`")
        return
    width = max(len(v.name) for v in views)
    for v in views:
        state = f"python {v.python_version or '?'}" if v.usable else f"UNUSABLE: {v.reason}"
        print(f"{v.name:<{width}}  {state}  ({v.path})")


def show_command(args, config_argv):
    config = load_config(config_argv)
    view = find_view(config.effective_views_roots(), args.name)
    info = view.to_dict()
    if view.usable:
        cache = EnvironmentCache(config.cache_dir, config.view_setup_timeout)
        if args.refresh:
            cache.clear(view)
        resolved = cache.get(view)
        info["kernel_problem"] = resolved.kernel_problem
        info["environment"] = resolved.diff()
    if args.json:
        print(json.dumps(info, indent=2))
        return
    for key in ("name", "path", "python", "python_version", "usable", "reason", "kernel_problem"):
        if info.get(key) not in (None, ""):
            print(f"{key}: {info[key]}")
    diff = info.get("environment")
    if diff:
        print("environment set by setup.sh:")
        for k, v in diff["added"].items():
            print(f"  + {k}={v}")
        for k, (old, new) in diff["changed"].items():
            print(f"  ~ {k}={new}  (was {old})")
        for k in diff["removed"]:
            print(f"  - {k}")


def build_command(args, config_argv):
    config = load_config(config_argv)
    if args.source:
        return build_from_command(args, config)
    if args.base:
        raise BadInput("--base goes with --from (a custom environment on top of a view)")
    view = build_view(
        args.root or config.local_views_root,
        args.name,
        python=args.python,
        packages=list(args.packages)
        + (spark_requirements() if args.spark else [])
        + (storage_requirements() if args.storage else [])
        + (dask_requirements() if args.dask else []),
        system_site_packages=args.system_site_packages,
        force=args.force,
        progress=lambda message: print(f"cygnet: {message}", file=sys.stderr, flush=True),
    )
    print(view.name)


def build_from_command(args, config):
    """`cygnet views build NAME --from REPO [--base VIEW]`: uv's log streams to stderr."""
    from .custom import build_custom_view, find_requirements, limits_from
    from .discovery import pick_default_view, split_name

    if "/" in args.name:
        raise BadInput("a custom environment is named by a release only; it takes its base view's platform")
    split_name(f"{args.name}/platform")  # the same rules as any view name
    views = discover(config.effective_views_roots())
    base = find_view(config.effective_views_roots(), args.base) if args.base else None
    base = base or pick_default_view(views, config.default_view)
    if base is None:
        raise BadInput("no usable view to build on; name one with --base")
    target = Path(args.root or config.custom_envs_root) / args.name / base.platform
    if target.exists() and not args.force:
        raise BadInput(f"{args.name}/{base.platform} already exists at {target}; pass --force to rebuild it")
    limits = limits_from(config)
    say = lambda line: print(f"cygnet: {line}", file=sys.stderr, flush=True)  # noqa: E731
    with checked_out(args.source, limits.timeout, say) as folder:
        requirements = find_requirements(folder, limits.allowed_hosts)
        base_env = EnvironmentCache(config.cache_dir, config.view_setup_timeout).get(base).env
        view = build_custom_view(
            args.root or config.custom_envs_root, args.name, base, base_env, requirements, limits, say
        )
    print(view.name)


@contextlib.contextmanager
def checked_out(source, timeout, progress):
    """A local folder as it is, or a shallow clone of a Git URL in a temporary folder."""
    if Path(source).is_dir():
        yield Path(source)
        return
    from cygnet.core.proc import run_bounded, tail

    with tempfile.TemporaryDirectory(prefix="cygnet-env-") as tmp:
        progress(f"cloning {source}")
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        result = run_bounded(
            ["git", "clone", "--depth", "1", "--quiet", "--", source, f"{tmp}/repo"],
            timeout=timeout,
            what="cloning",
            env=env,
        )
        if result.returncode != 0:
            raise BadInput(f"{source} could not be cloned: {tail(result.stderr)}")
        yield Path(tmp) / "repo"
