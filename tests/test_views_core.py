"""The views core in-process: discovery, environment resolution and its cache, isolation."""

import os
import subprocess
import time

import pytest

from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput, NotFound, Unavailable
from cygnet.kernels.isolation import kernel_environment, kernel_side_path
from cygnet.views import EnvironmentCache, discover, find_view
from tests.support.cli import PLATFORM
from tests.support.views import lcg_view, times_sourced


@pytest.fixture
def root(tmp_path):
    return tmp_path / "views"


def test_first_root_wins_and_order_is_by_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    lcg_view(a, "R2", "p")
    lcg_view(b, "R2", "p")
    lcg_view(b, "R1", "p")
    views = discover([a, b])
    assert [v.name for v in views] == ["R1/p", "R2/p"]
    assert views[1].path == a / "R2" / "p"


def test_missing_roots_hold_no_views(tmp_path):
    assert discover([tmp_path / "absent", tmp_path]) == []


def test_find_view_names_what_exists(root):
    lcg_view(root, "R1", "p")
    assert find_view([root], "R1/p").release == "R1"
    with pytest.raises(NotFound, match="R1/p"):
        find_view([root], "R9/p")
    for bad in ("R1", "a/b/c", "../x", "R1/.."):
        with pytest.raises(BadInput):
            find_view([root], bad)


def test_views_path_variable_adds_roots_in_front(monkeypatch, tmp_path):
    monkeypatch.setenv("CYGNET_VIEWS_PATH", f"{tmp_path}/x:{tmp_path}/y")
    config = Cygnet(views_roots=[str(tmp_path / "z"), str(tmp_path / "x")], custom_envs_root=str(tmp_path / "e"))
    expected = [tmp_path / "x", tmp_path / "y", tmp_path / "z", tmp_path / "e"]
    assert config.effective_views_roots() == expected, "the custom environments' root comes last"


def test_environment_is_what_setup_sh_gives_in_a_clean_shell(root, monkeypatch):
    monkeypatch.setenv("LEAKY_SERVER_VARIABLE", "1")
    path = lcg_view(root, "R1", "p", setup_lines=['export FROM_ARGS="$#"'])
    env = EnvironmentCache(root.parent / "cache").get(find_view([root], "R1/p")).env
    assert env["CYGNET_TEST_MARKER"] == "marker-R1"
    assert env["PYTHONPATH"].startswith(str(path / "extra"))
    assert env["PATH"].startswith(str(path / "bin"))
    assert env["FROM_ARGS"] == "0", "setup.sh is sourced with no positional parameters"
    assert "LEAKY_SERVER_VARIABLE" not in env
    assert not {"_", "SHLVL", "PWD"} & set(env)


def test_cache_sources_once_across_processes_and_again_when_setup_changes(root, kernel_site):
    path = lcg_view(root, "R1", "p", kernel_site=kernel_site)
    view = find_view([root], "R1/p")
    cache_dir = root.parent / "cache"
    EnvironmentCache(cache_dir).get(view)
    EnvironmentCache(cache_dir).get(view)  # a new process: the disk cache
    cache = EnvironmentCache(cache_dir)
    cache.get(view)
    cache.get(view)  # the memory cache
    assert times_sourced(path) == 1
    with open(path / "setup.sh", "a") as f:
        f.write("export CHANGED=yes\n")
    assert cache.get(view).env["CHANGED"] == "yes"
    assert times_sourced(path) == 2
    assert len(list((cache_dir / "view-env").glob("*.json"))) == 1, "old entries are dropped"


def test_damaged_cache_entry_is_resolved_again(root, kernel_site):
    path = lcg_view(root, "R1", "p", kernel_site=kernel_site)
    view = find_view([root], "R1/p")
    cache_dir = root.parent / "cache"
    EnvironmentCache(cache_dir).get(view)
    for entry in (cache_dir / "view-env").glob("*.json"):
        entry.write_text("{not json")
    assert EnvironmentCache(cache_dir).get(view).env["CYGNET_TEST_MARKER"] == "marker-R1"
    assert times_sourced(path) == 2


def test_failing_setup_names_view_exit_code_and_message_and_is_not_cached(root):
    lcg_view(root, "R1", "p", setup_lines=["echo 'no such compiler' >&2", "false"])
    view = find_view([root], "R1/p")
    cache = EnvironmentCache(root.parent / "cache")
    with pytest.raises(Unavailable, match=r"(?s)view R1/p: setup.sh failed \(exit 1\):.*no such compiler"):
        cache.get(view)
    assert "no such compiler" in cache.known_problems()["R1/p"]
    assert discover([root], cache.known_problems())[0].usable is False
    assert not list((root.parent / "cache" / "view-env").glob("*.json"))


def test_hanging_setup_is_stopped_within_the_timeout(root):
    lcg_view(root, "R1", "p", setup_lines=["sleep 60 &", "sleep 60"])
    started = time.monotonic()
    with pytest.raises(Unavailable, match="no answer within 1 s"):
        EnvironmentCache(root.parent / "cache", timeout=1).get(find_view([root], "R1/p"))
    assert time.monotonic() - started < 10


def test_view_without_ipykernel_is_reported_and_rechecked_after_a_fix(root, kernel_site):
    path = lcg_view(root, "R1", "p")
    view = find_view([root], "R1/p")
    cache = EnvironmentCache(root.parent / "cache")
    assert "cannot import ipykernel" in cache.get(view).kernel_problem
    # The admin fixes the view without touching setup.sh: no cache flush is needed.
    site = next((path / "lib").glob("python3.*")) / "site-packages"
    (site / "kernel.pth").write_text(str(kernel_site) + "\n")
    assert cache.get(view).kernel_problem == ""
    assert "R1/p" not in cache.known_problems()


def test_kernel_environment_rules(root):
    path = lcg_view(root, "R1", "p")
    view = find_view([root], "R1/p")
    server = {
        "HOME": "/home/u",
        "LC_ALL": "C",
        "SECRET_TOKEN": "x",
        "PYTHONPATH": "/srv/site",
        "VIRTUAL_ENV": "/srv/venv",
        "TZ": "UTC",
    }
    env = kernel_environment(
        view,
        {"PYTHONPATH": "/view/py", "TZ": "Europe/Zurich"},
        server,
        ["HOME", "LC_*", "TZ"],
        kernel_path="/k",
        extensions=["a.b"],
    )
    assert env["HOME"] == "/home/u" and env["LC_ALL"] == "C"
    assert env["TZ"] == "Europe/Zurich", "what the view sets wins"
    assert "SECRET_TOKEN" not in env and "VIRTUAL_ENV" not in env
    assert env["PYTHONPATH"] == "/view/py:/k"
    assert env["CYGNET_VIEW"] == "R1/p" and env["CYGNET_VIEW_PATH"] == str(path)
    assert env["CYGNET_KERNEL_EXTENSIONS"] == "a.b"


def test_kernel_side_path_exposes_only_the_named_packages_and_their_requirements(tmp_path, kernel_site):
    # cygnet.kernels declares KERNEL_REQUIRES = ("cygnet.core",): the contract comes along,
    # the server side (views, server) does not.
    path = kernel_side_path(["cygnet.kernels"], tmp_path)
    assert kernel_side_path(["cygnet.kernels"], tmp_path) == path
    code = (
        "import importlib.util as u; import cygnet.kernels.kernel_extension; "
        "print(u.find_spec('cygnet.views') is None, u.find_spec('cygnet.server') is None, "
        "u.find_spec('cygnet.core') is None)"
    )
    out = subprocess.run(
        ["python3", "-I", "-c", f"import sys; sys.path.append({str(path)!r}); {code}"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert out.stdout.split() == ["True", "True", "False"], out.stderr
    for bad in ("jupyter_server", "cygnet", "cygnet.nope", "cygnet.a.b"):
        with pytest.raises(BadInput):
            kernel_side_path([bad], tmp_path)


def test_interrupted_build_is_listed_unusable(built_view):
    assert "did not finish" in built_view["listed_while_interrupted"]
    assert not (built_view["path"] / "half-written-file").exists()
    assert not (built_view["path"] / ".cygnet-building").exists()
    view = find_view([built_view["root"]], f"built/{PLATFORM}")
    assert view.usable and view.python_version


def test_a_sources_only_pin_is_installed_from_the_kept_wheel(tmp_path, monkeypatch):
    """pyspark is published as sources only: a wheel made once is kept in ~/.cache/cygnet/wheels
    and handed to the installer of every later build; other requirements need no folder."""
    from cygnet.views.build import install_command, kept_wheels

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kept_wheels(["ipykernel==7.4.0", "pandas==2.3.3"]) is None
    kept = tmp_path / "cygnet" / "wheels"
    kept.mkdir(parents=True)
    (kept / "pyspark-4.3.0-py2.py3-none-any.whl").write_bytes(b"a wheel made by an earlier build")
    said = []
    assert kept_wheels(["ipykernel==7.4.0", "pyspark[connect]==4.3.0"], said.append) == kept
    assert said == [], "an existing wheel is used, not made again"
    command = install_command(tmp_path / "bin" / "python3", ["pyspark[connect]==4.3.0"], kept)
    assert command[command.index("--find-links") + 1] == str(kept)
    assert "--find-links" not in install_command(tmp_path / "bin" / "python3", ["pandas"])
