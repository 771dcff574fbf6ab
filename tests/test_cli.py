"""The `cygnet` command: views subcommands and `cygnet up`, run as real processes."""

import json
import re

import pytest
import requests

from tests.support.cli import PLATFORM, cygnet
from tests.support.jupyter import JupyterServer


def views_env(lcg_root, tmp_path):
    return {"CYGNET_VIEWS_PATH": str(lcg_root[0]), "CYGNET_DATA_DIR": str(tmp_path / "data")}


def test_views_list(lcg_root, tmp_path):
    result = cygnet("views", "list", env=views_env(lcg_root, tmp_path))
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^LCG_marker/{PLATFORM} +python 3\.\d+ ", result.stdout, re.M)
    assert re.search(rf"^LCG_nosetup/{PLATFORM} +UNUSABLE: no setup.sh", result.stdout, re.M)
    listed = json.loads(cygnet("views", "list", "--json", env=views_env(lcg_root, tmp_path)).stdout)
    assert {v["name"] for v in listed} >= {f"LCG_marker/{PLATFORM}", f"LCG_nopython/{PLATFORM}"}


def test_views_list_reads_the_server_config_and_flags(lcg_root, tmp_path):
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "jupyter_server_config.py").write_text(f"c.Cygnet.views_roots = [{str(lcg_root[0])!r}]\n")
    assert f"LCG_marker/{PLATFORM}" in cygnet("views", "list", env=env).stdout
    flagged = cygnet("views", "list", f"--Cygnet.views_roots=['{tmp_path}/none']", env=env)
    assert "no views under" in flagged.stdout


def test_views_show_gives_the_environment_diff(lcg_root, tmp_path):
    env = views_env(lcg_root, tmp_path)
    shown = json.loads(cygnet("views", "show", f"LCG_marker/{PLATFORM}", "--json", env=env).stdout)
    assert shown["environment"]["added"]["CYGNET_TEST_MARKER"] == "marker-LCG_marker"
    assert shown["kernel_problem"] == ""
    text = cygnet("views", "show", f"LCG_marker/{PLATFORM}", "--refresh", env=env).stdout
    assert "+ CYGNET_TEST_MARKER=marker-LCG_marker" in text


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["views", "show", "LCG_none/x"], 3, "no view named 'LCG_none/x'"),
        (["views", "show", "not-a-name"], 2, "a view name is <release>/<platform>"),
        (["views", "show", f"LCG_failing/{PLATFORM}"], 4, "cannot find compiler gcc13"),
        (["views", "list", "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["up", "--root", "/no/such/folder"], 2, "is not a folder"),
        (["up", "--port", "70000"], 2, "--port must be between 1 and 65535"),
    ],
)
def test_bad_input_gets_a_clear_error_and_exit_code(lcg_root, tmp_path, args, code, words):
    result = cygnet(*args, env=views_env(lcg_root, tmp_path), timeout=60)
    assert result.returncode == code, result.stderr
    assert words in result.stderr


def test_build_refuses_to_overwrite_an_existing_view(built_view):
    result = cygnet("views", "build", f"built/{PLATFORM}", "--root", str(built_view["root"]))
    assert result.returncode == 2
    assert "already exists" in result.stderr and "--force" in result.stderr


def test_build_layout_is_an_lcg_view(built_view):
    path = built_view["path"]
    assert (path / "setup.sh").is_file() and (path / "bin" / "python3").exists()
    assert list((path / "lib").glob("python3.*/site-packages/ipykernel"))


@pytest.mark.slow  # builds the default view (uv, or pip without it)
def test_up_with_no_configuration_builds_a_default_view_and_serves(tmp_path):
    """The embedded default: nothing configured, no views anywhere."""
    env = {
        "CYGNET_DATA_DIR": str(tmp_path / "data"),
        "CYGNET_VIEWS_PATH": "",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
    }
    (tmp_path / "work").mkdir()
    server = JupyterServer(env=env, args=["--root", str(tmp_path / "work")])
    with server.start(timeout=300):
        views = server.get("/cygnet/api/views").json()
        assert [v["release"] for v in views] == ["default"] and views[0]["usable"]
        specs = server.get("/api/kernelspecs").json()
        assert specs["default"] in specs["kernelspecs"]
        kernel = server.kernel(specs["default"])
        try:
            assert kernel.run("print(6 * 7)").strip() == "42"
        finally:
            kernel.shutdown()
        wrong = requests.get(f"{server.url}/cygnet/api/views", headers={"Authorization": "token wrong"}, timeout=10)
        assert wrong.status_code == 403, "JUPYTER_TOKEN is honoured"
    assert "building 'default'" in server.log()


def test_version_and_a_settings_cache_that_follows_the_configuration(tmp_path):
    assert cygnet("--version").stdout.strip().startswith("cygnet ")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "cfg").mkdir()
    env = {
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CYGNET_DATA_DIR": str(tmp_path / "data"),
    }
    for box in ("box-a", "box-b"):  # the second run must see the changed file, not a cached value
        (tmp_path / "cfg" / "jupyter_server_config.py").write_text(f"c.Cygnet.box_url = {str(tmp_path / box)!r}\n")
        result = cygnet("sync", str(tmp_path / "src"), env=env)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / box / "a.txt").read_text() == "a"
    assert list((tmp_path / "cache" / "cygnet").glob("settings-*.json")), "the settings were cached"


def test_paths_from_the_shell_are_taken_absolute_or_relative_and_checked_where_they_resolve(tmp_path, monkeypatch):
    from cygnet.core.errors import BadInput
    from cygnet.core.paths import confine, from_shell

    workspace = tmp_path / "ws"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "sub" / "param.ipynb").write_text("{}")
    monkeypatch.chdir(workspace)
    assert from_shell(str(workspace / "sub" / "param.ipynb"), workspace) == "sub/param.ipynb"
    assert from_shell("sub/param.ipynb", workspace) == "sub/param.ipynb"
    monkeypatch.chdir(workspace / "sub")
    assert from_shell("param.ipynb", workspace) == "sub/param.ipynb"  # relative to where the shell is
    assert from_shell("other.ipynb", workspace) == "other.ipynb"  # no such file here: the workspace's
    with pytest.raises(BadInput, match="must stay inside the workspace"):
        confine(workspace, from_shell(str(tmp_path / "outside.ipynb"), workspace))
