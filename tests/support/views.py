"""Real views for tests, laid out as on CVMFS: <root>/<release>/<platform>/setup.sh.

Like an LCG view, an `lcg_view` has its own interpreter (a virtual environment without pip)
and a setup.sh that puts its packages on PYTHONPATH; ipykernel comes from `kernel_site`, the
site-packages of a view built by `cygnet views build`.
"""

import subprocess
import sys
from pathlib import Path

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def lcg_view(root, release, platform, *, kernel_site=None, setup_lines=(), python=True, setup=True):
    """Create a view; every sourcing of its setup.sh appends a line to <view>/sourced.log."""
    path = Path(root) / release / platform
    path.mkdir(parents=True)
    if python:
        subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    extra = path / "extra"
    extra.mkdir()
    (extra / "viewonly_mod.py").write_text(f"WHERE = {release!r}\n")
    if setup:
        pythonpath = ":".join(filter(None, [str(extra), str(kernel_site or "")]))
        lines = [
            f'echo sourced >> "{path}/sourced.log"',
            "echo 'setup.sh talks on stdout, as LCG scripts do'",
            f'export PATH="{path}/bin:$PATH"',
            f'export PYTHONPATH="{pythonpath}${{PYTHONPATH:+:$PYTHONPATH}}"',
            f"export CYGNET_TEST_MARKER=marker-{release}",
            *setup_lines,
        ]
        (path / "setup.sh").write_text("\n".join(lines) + "\n")
    return path


def times_sourced(view_path):
    log = Path(view_path) / "sourced.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def kernel_name(release, platform):
    return f"{release}__{platform}".lower()


def built_kernel_site(root, platform):
    """Build a view with ipykernel under `root` by `cygnet views build` (as a site's first view
    is made) and return its site-packages, for views that borrow its kernel."""
    from tests.support.jupyter import VENV_BIN

    subprocess.run(
        [str(VENV_BIN / "cygnet"), "views", "build", f"base/{platform}", "--root", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return next((Path(root) / "base" / platform / "lib").glob("python3.*")) / "site-packages"


def spark_views(views=None):
    """A views root with a view that has Spark (built with `cygnet views build --spark`, about
    45 s, unless `views` names one) and the kernel name of its view: for the benchmarks."""
    import tempfile

    from .jupyter import VENV_BIN

    if views is None:
        views = Path(tempfile.mkdtemp()) / "views"
        print("building a view with Spark (about 45 s)...", flush=True)
        subprocess.run(
            [str(VENV_BIN / "cygnet"), "views", "build", "bench/x86_64-bench", "--spark", "--root", str(views)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    views = Path(views)
    name = next(f"{r.name}__{p.name}".lower() for r in views.iterdir() for p in r.iterdir() if p.is_dir())
    return views, name


# Kernel packages a language view ships, at the versions the test lock pins.
LANGUAGE_KERNEL_PACKAGES = ("bash_kernel==0.10.0", "octave_kernel==1.1.1", "metakernel==1.0.7", "filetype==1.2.0")


def language_view(root, release, platform, *, kernel_site, setup_lines=()):
    """A view that ships kernels besides its Python, as an LCG view does: R (Debian's IRkernel),
    Octave (octave_kernel over Debian's octave) and bash (bash_kernel), their specs in the view's
    share/jupyter/kernels, and bash's where ROOT keeps its own (etc/notebook/kernels)."""
    import json
    import shutil

    path = lcg_view(root, release, platform, kernel_site=kernel_site, setup_lines=setup_lines)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
        + ["--target", str(path / "extra"), *LANGUAGE_KERNEL_PACKAGES],
        check=True,
    )
    specs = {
        "share/jupyter/kernels/octave": {
            "argv": ["python", "-m", "octave_kernel", "-f", "{connection_file}"],
            "display_name": "Octave",
            "language": "octave",
        },
        "etc/notebook/kernels/bash": {
            "argv": ["python", "-m", "bash_kernel", "-f", "{connection_file}"],
            "display_name": "Bash",
            "language": "bash",
        },
    }
    for folder, spec in specs.items():
        (path / folder).mkdir(parents=True)
        (path / folder / "kernel.json").write_text(json.dumps(spec))
    shutil.copytree("/usr/share/jupyter/kernels/ir", path / "share/jupyter/kernels/ir")
    return path


def spark_home_view(root, release, platform, *, kernel_site):
    """A view whose Spark is a distribution at $SPARK_HOME (python/pyspark, python/lib/py4j-*.zip,
    jars/, bin/), as LCG views ship it, and no pyspark package on its Python's path; sparkmonitor
    is installed as a package, as in an LCG view."""
    import importlib.metadata
    import zipfile

    import py4j
    import pyspark

    path = Path(root) / release / platform
    home = path / "spark"
    lcg_view(root, release, platform, kernel_site=kernel_site, setup_lines=[f'export SPARK_HOME="{home}"'])
    installed = Path(pyspark.__file__).parent
    (home / "python" / "lib").mkdir(parents=True)
    (home / "python" / "pyspark").symlink_to(installed, target_is_directory=True)
    for folder in ("jars", "bin"):
        (home / folder).symlink_to(installed / folder, target_is_directory=True)
    py4j_dir = Path(py4j.__file__).parent
    with zipfile.ZipFile(home / "python" / "lib" / f"py4j-{py4j.__version__}-src.zip", "w") as z:
        for file in py4j_dir.rglob("*.py"):
            z.write(file, Path("py4j") / file.relative_to(py4j_dir))
    sparkmonitor = f"sparkmonitor=={importlib.metadata.version('sparkmonitor')}"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
        + ["--target", str(path / "extra"), sparkmonitor],
        check=True,
    )
    return path


# The server of views that ship kernels (conftest's `langs`): its default view, and the user's
# environment script in its workspace.
LANGS = "LCG_langs/x86_64-test"  # tests.support.cli.PLATFORM
SCRIPT = "env/user-env.sh"
GOOD_SCRIPT = 'echo "user script says hello"\nexport CYGNET_USER_SCRIPT="from-$(basename "$PWD")"\n'


def plain_kernel_spec(jupyter_path, view, kernel_site):
    """A kernel.json named 'plain' under `jupyter_path`: the view's Python with ipykernel, as stock
    Jupyter would run it (the baseline of benchmarks), with the view's modules on its path."""
    import json

    spec = Path(jupyter_path) / "kernels" / "plain"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(Path(view) / "bin" / "python3"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "plain ipykernel",
                "language": "python",
                "env": {"PYTHONPATH": f"{Path(view) / 'extra'}:{kernel_site}"},
            }
        )
    )
