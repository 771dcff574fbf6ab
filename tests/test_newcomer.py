"""A newcomer's first minutes: `cygnet up` with no options serves a workspace of its own, and
JupyterLab asks nothing about news or updates on a machine without internet."""

import os

from tests.support.jupyter import JupyterServer


def test_up_with_no_root_serves_a_workspace_of_its_own_and_no_news_toast(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "CYGNET_DATA_DIR": str(tmp_path / "data")}
    with JupyterServer(env=env, args=["--Cygnet.build_default_view=False"]) as server:
        assert (home / "cygnet").is_dir()
        (home / "cygnet" / "mine.txt").write_text("x")
        assert [m["name"] for m in server.get("/api/contents/").json()["content"]] == ["mine.txt"]
        assert "the workspace is" in server.log() and str(home / "cygnet") in server.log()
        notification = server.get("/lab/api/settings/@jupyterlab/apputils-extension:notification").json()
        properties = notification["schema"]["properties"]
        assert properties["fetchNews"]["default"] == "false"
        assert properties["checkForUpdates"]["default"] is False
    assert os.listdir(home / "cygnet") == ["mine.txt"]
