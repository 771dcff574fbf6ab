"""GET /cygnet/api/views on the real server."""

import requests

from tests.support.cli import PLATFORM

FIELDS = {"name", "release", "platform", "path", "python", "python_version", "usable", "reason"}


def test_lists_every_view_with_its_details(server, lcg_root):
    root, views = lcg_root
    listed = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
    marker = listed[f"LCG_marker/{PLATFORM}"]
    assert FIELDS <= set(marker)
    assert marker["usable"] is True and marker["reason"] == ""
    assert marker["release"] == "LCG_marker" and marker["platform"] == PLATFORM
    assert marker["path"] == str(views["marker"])
    assert marker["python"] == str(views["marker"] / "bin" / "python3")
    assert marker["python_version"].startswith("3.")
    assert f"built/{PLATFORM}" in listed


def test_broken_views_are_listed_unusable_with_the_reason(server):
    listed = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
    assert "no Python interpreter" in listed[f"LCG_nopython/{PLATFORM}"]["reason"]
    assert "no setup.sh" in listed[f"LCG_nosetup/{PLATFORM}"]["reason"]
    assert not listed[f"LCG_nopython/{PLATFORM}"]["usable"]


def test_what_is_not_a_view_is_ignored(server):
    names = {v["name"] for v in server.get("/cygnet/api/views").json()}
    assert not any(n.startswith(("LCG_empty", ".hidden", "README")) for n in names), names


def test_requires_login(server):
    r = requests.get(f"{server.url}/cygnet/api/views", timeout=10)
    assert r.status_code == 403
    r = requests.get(f"{server.url}/cygnet/api/views", headers={"Authorization": "token wrong"}, timeout=10)
    assert r.status_code == 403
