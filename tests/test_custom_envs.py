"""Custom environments built from a repository's requirements with uv, on top of a view: by
`cygnet views build --from` and by /cygnet/open?repo=...&env=1, through the real server, a real
git daemon and packages from the package index."""

import json
import uuid

import pytest

from cygnet.core.errors import BadInput
from cygnet.views.custom import check_line, find_requirements
from tests.support.cli import PLATFORM, cygnet
from tests.support.gitserve import Upstream
from tests.test_opener import open_via_api

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
PROBE = (
    "import os, six, viewonly_mod; "
    "print(six.__file__, os.environ['CYGNET_TEST_MARKER'], viewonly_mod.WHERE, os.environ['CYGNET_BASE_VIEW'])"
)


def repo(git_daemon, files):
    return Upstream(git_daemon, f"analysis{uuid.uuid4().hex[:8]}", files)


def test_a_link_with_env_builds_the_environment_and_opens_the_notebook_on_it(server, git_daemon):
    upstream = repo(git_daemon, {"requirements.txt": "six==1.17.0\n", "analysis.ipynb": NOTEBOOK})
    kind, data, events = open_via_api(server, repo=upstream.url, path="analysis.ipynb", env="1")
    assert kind == "done", data
    lines = [d["line"] for k, d in events if k == "progress"]
    assert any("six==1.17.0" in line for line in lines), lines  # uv's own log, streamed
    kernel = data["kernel"]
    assert kernel.startswith("env-") and kernel.endswith(PLATFORM.lower()), data
    assert kernel in server.get("/api/kernelspecs").json()["kernelspecs"]
    sessions = {s["path"]: s for s in server.get("/api/sessions").json()}
    session = sessions[data["path"]]
    assert session["kernel"]["name"] == kernel, "JupyterLab joins this session when it opens the notebook"
    client = server.kernel(kernel)
    try:
        six_file, marker, where, base = client.run(PROBE).split()
    finally:
        client.shutdown()
        server.delete(f"/api/sessions/{session['id']}")
    assert "/env-" in six_file, "six comes from the environment"
    assert (marker, where, base) == ("marker-LCG_marker", "LCG_marker", f"LCG_marker/{PLATFORM}"), "on its base view"
    views = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
    built = next(v for v in views.values() if v["kernels"][0]["name"] == kernel)
    assert built["base"] == f"LCG_marker/{PLATFORM}"

    # Another repository with the same requirements reuses the environment.
    other = repo(git_daemon, {"requirements.txt": "six==1.17.0\n", "notes.ipynb": NOTEBOOK})
    kind, again, events = open_via_api(server, repo=other.url, path="notes.ipynb", env="1")
    assert kind == "done" and again["kernel"] == kernel, again
    assert any("reusing the environment" in d["line"] for k, d in events if k == "progress")


@pytest.mark.parametrize(
    "requirements, words",
    [
        ("-e .\n", "editable installs are not allowed"),
        ("numpy\n--index-url https://mirror.example.org/simple\n", "mirror.example.org is not a package source"),
        ("mypkg @ file:///etc/passwd\n", "local paths are not allowed"),
        ("../secret-package\n", "local paths are not allowed"),
        ("-r other.txt\n", "nested requirement files are not followed"),
        ("numpy[extra\n", "is not a valid requirement"),
    ],
)
def test_requirements_that_reach_outside_the_allowed_indexes_are_refused(server, git_daemon, requirements, words):
    upstream = repo(git_daemon, {"requirements.txt": requirements})
    kind, data, _ = open_via_api(server, repo=upstream.url, env="1")
    assert kind == "failed" and words in data["message"] and "requirements.txt" in data["message"], data


def test_a_failing_install_shows_uvs_message_and_leaves_nothing_behind(server, git_daemon):
    upstream = repo(git_daemon, {"requirements.txt": "cygnet-no-such-package-3141==1.0\n"})
    kind, data, _ = open_via_api(server, repo=upstream.url, env="1")
    assert kind == "failed" and "cygnet-no-such-package-3141" in data["message"], data
    envs = server.data_dir / "views"
    leftovers = [p for p in envs.glob("env-*/.*building*")]
    assert not leftovers, leftovers


def test_env_goes_with_a_repository(server):
    kind, data, _ = open_via_api(server, url="https://example.org/x.ipynb", env="1")
    assert kind == "failed" and "goes with repo=" in data["message"]
    kind, data, _ = open_via_api(server, repo="https://example.org/x.git", env="maybe")
    assert kind == "failed" and "env= is 1 or 0" in data["message"]


def test_cli_builds_a_named_environment_from_a_git_url(tmp_path, git_daemon, lcg_root):
    root, _ = lcg_root
    upstream = repo(git_daemon, {"binder/requirements.txt": "six==1.17.0\n", "requirements.txt": "not-this==1\n"})
    env = {"CYGNET_DATA_DIR": str(tmp_path / "data"), "CYGNET_VIEWS_PATH": str(root)}
    built = cygnet("views", "build", "myanalysis", "--from", upstream.url, "--base", f"LCG_marker/{PLATFORM}", env=env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == f"myanalysis/{PLATFORM}"
    assert "six==1.17.0" in built.stderr, "uv's log streams"
    listed = json.loads(cygnet("views", "list", "--json", env=env).stdout)
    view = next(v for v in listed if v["name"] == f"myanalysis/{PLATFORM}")
    assert view["usable"] and view["base"] == f"LCG_marker/{PLATFORM}"
    again = cygnet("views", "build", "myanalysis", "--from", upstream.url, env=env)
    assert again.returncode != 0 and "already exists" in again.stderr
    nothing = tmp_path / "empty"
    nothing.mkdir()
    refused = cygnet("views", "build", "x", "--from", str(nothing), "--base", f"LCG_marker/{PLATFORM}", env=env)
    assert refused.returncode != 0 and "no environment to build" in refused.stderr


# --- in process: what is read from a repository, and what is refused --------------------
def test_requirements_are_read_from_binder_first_then_the_usual_files(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["numpy>=1.26", "pandas"]\n')
    assert find_requirements(tmp_path).lines == ("numpy>=1.26", "pandas")
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    (tmp_path / "pyproject.toml").unlink()
    found = find_requirements(tmp_path)
    assert (found.source, found.lines) == ("environment.yml", ("six",))
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "requirements.txt").write_text("# pinned\nnumpy==2.1 \\\n  ; python_version>'3'\n\n")
    found = find_requirements(tmp_path)
    assert found.source == "binder/requirements.txt" and found.lines == ("numpy==2.1   ; python_version>'3'",)


def test_allowed_hosts_open_indexes_and_direct_urls():
    allowed = ("pypi.site.example",)
    assert check_line("--extra-index-url https://pypi.site.example/simple", "r.txt", allowed)
    assert check_line("pkg @ https://pypi.site.example/pkg-1.0-py3-none-any.whl", "r.txt", allowed)
    assert check_line("--only-binary=:all:", "r.txt")
    for line in ("pkg @ git+https://github.com/x/y", "https://evil.example/p.whl", "--trusted-host x", "/abs/p"):
        with pytest.raises(BadInput):
            check_line(line, "r.txt", allowed)
