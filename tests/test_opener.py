"""Opening repositories and notebooks by link, through the real server, with real git over
git:// (git daemon) and real HTTP downloads, all on 127.0.0.1."""

import json
import os
import time
import uuid
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cygnet.core.errors import BadInput, Unavailable
from cygnet.server.opener.core import OpenSettings, open_link
from cygnet.server.opener.policy import OpenPolicy
from tests.support.cli import cygnet
from tests.support.gitserve import SilentServer, StaticServer, Upstream

# The test servers are on loopback, which links reach only where the site allows it.
LOOPBACK = OpenPolicy(internal=("127.0.0.1",))
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def open_via_api(server, **params):
    """The event stream's events, and its last (done or failed) event's data."""
    events = server.events("/cygnet/api/open", params)
    assert events, "the stream ended without an event"
    kind, data = events[-1]
    assert kind in ("done", "failed"), events
    return kind, data, events


def opened(server, **params):
    kind, data, _ = open_via_api(server, **params)
    assert kind == "done", data
    return data


def failed(server, **params):
    kind, data, _ = open_via_api(server, **params)
    assert kind == "failed", data
    return data["message"]


@pytest.fixture
def upstream(git_daemon):
    return Upstream(
        git_daemon,
        unique("course"),
        {"intro.ipynb": NOTEBOOK, "a.txt": "teacher a\n", "b.txt": "teacher b\n", "data/d.csv": "x,y\n"},
    )


# --- repositories -------------------------------------------------------------------------
def test_first_open_clones_and_sends_the_user_to_the_file(server, upstream):
    target = unique("first")
    data = opened(server, repo=upstream.url, path="intro.ipynb", target=target)
    assert data["url"] == f"/lab/tree/{target}/intro.ipynb"
    assert data["path"] == f"{target}/intro.ipynb"
    assert (server.root / target / "a.txt").read_text() == "teacher a\n"
    assert not [p for p in server.root.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_the_git_panel_sees_an_opened_repository_and_diffs_its_notebooks_with_nbdime(server, upstream):
    """jupyterlab-git's server side in every session, on a link's shallow clone."""
    target = unique("git")
    opened(server, repo=upstream.url, path="intro.ipynb", target=target)
    edited = {"cells": [{"cell_type": "markdown", "id": "c0", "metadata": {}, "source": "# mine"}]}
    edited.update(metadata={}, nbformat=4, nbformat_minor=5)
    (server.root / target / "intro.ipynb").write_text(json.dumps(edited))
    status = server.post(f"/git/{target}/status", json={})
    assert status.status_code == 200, status.text
    files = {f["to"]: f for f in status.json()["files"]}
    assert files["intro.ipynb"]["y"] == "M", files
    head = server.post(f"/git/{target}/content", json={"filename": "intro.ipynb", "reference": {"git": "HEAD"}})
    assert head.status_code == 200, head.text
    diff = server.post(
        "/git/diffnotebook",
        json={"previousContent": head.json()["content"], "currentContent": json.dumps(edited)},
    )
    assert diff.status_code == 200, diff.text
    assert diff.json()["base"]["cells"] == [] and diff.json()["diff"], "nbdime's diff: a cell added"


def test_default_target_is_named_after_the_repository_and_progress_streams(server, upstream):
    kind, data, events = open_via_api(server, repo=upstream.url)
    name = upstream.url.rsplit("/", 1)[1][:-4]
    assert kind == "done" and data["url"] == f"/lab/tree/{name}"
    lines = [d["line"] for k, d in events if k == "progress"]
    assert any("Receiving objects" in line or "Cloning" in line for line in lines), lines


def test_reopen_merges_upstream_and_never_loses_the_users_work(server, upstream):
    target = unique("merge")
    opened(server, repo=upstream.url, target=target)
    work = server.root / target
    (work / "a.txt").write_text("my edit of a\n")  # edited by both: the user's wins
    (work / "b.txt").unlink()  # deleted by the user: restored
    (work / "new.txt").write_text("mine\n")  # created by both: keep mine, save theirs beside
    upstream.commit(
        {
            "a.txt": "teacher's new a\n",
            "c.txt": "new upstream file\n",
            "new.txt": "theirs\n",
            "data/d.csv": "x,y\n1,2\n",
        }
    )

    kind, data, events = open_via_api(server, repo=upstream.url, target=target, path="c.txt")
    assert kind == "done", data
    assert (work / "a.txt").read_text() == "my edit of a\n"
    assert (work / "b.txt").read_text() == "teacher b\n"
    assert (work / "c.txt").read_text() == "new upstream file\n"
    assert (work / "data" / "d.csv").read_text() == "x,y\n1,2\n"
    assert (work / "new.txt").read_text() == "mine\n"
    assert (work / "new-remote.txt").read_text() == "theirs\n"

    # And again: the user's edits stay through a further upstream change.
    upstream.commit({"c.txt": "changed again\n"})
    assert opened(server, repo=upstream.url, target=target)["path"] == target
    assert (work / "a.txt").read_text() == "my edit of a\n"
    assert (work / "c.txt").read_text() == "changed again\n"


def test_diverged_history_moves_the_old_folder_to_a_backup_and_clones_afresh(server, upstream):
    target = unique("diverged")
    opened(server, repo=upstream.url, target=target)
    (server.root / target / "a.txt").write_text("precious\n")
    (server.root / target / "fresh.txt").write_text("my own fresh start\n")  # upstream adds it too
    as_it_was = sorted(p.relative_to(server.root / target) for p in (server.root / target).rglob("*"))
    upstream.rewrite_history({"fresh.txt": "a new start\n"})

    opened(server, repo=upstream.url, target=target)
    assert (server.root / target / "fresh.txt").read_text() == "a new start\n"
    backups = [p for p in server.root.iterdir() if p.name.startswith(f"{target}-backup-")]
    assert len(backups) == 1 and (backups[0] / "a.txt").read_text() == "precious\n"
    # The backup is the user's folder exactly as it was: nothing renamed or set aside in it.
    assert (backups[0] / "fresh.txt").read_text() == "my own fresh start\n"
    assert sorted(p.relative_to(backups[0]) for p in backups[0].rglob("*") if ".git" not in p.parts) == [
        p for p in as_it_was if ".git" not in p.parts
    ]


def test_a_folder_of_something_else_is_never_touched(server, upstream):
    target = unique("taken")
    (server.root / target).mkdir()
    (server.root / target / "mine.txt").write_text("keep")
    data = opened(server, repo=upstream.url, target=target)
    assert data["path"] == f"{target}-1"
    assert (server.root / target / "mine.txt").read_text() == "keep"


def test_missing_file_or_branch_gives_a_clear_failure(server, upstream):
    assert "nope.ipynb is not in the repository" in failed(
        server, repo=upstream.url, path="nope.ipynb", target=unique("nofile")
    )
    message = failed(server, repo=upstream.url, branch="no-such-branch", target=unique("nobranch"))
    assert "no-such-branch" in message


# --- safety --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "repo, words",
    [
        ("--upload-pack=touch /tmp/cygnet-pwned", "not a valid repository URL"),
        ("-c core.sshCommand=touch", "not a valid repository URL"),
        ("ext::sh -c touch% /tmp/cygnet-pwned", "not a valid repository URL"),
        ("file:///etc", "file:// repositories are not enabled"),
        ("ssh://git@example.org/x.git", "ssh URL not allowed"),
        ("git@example.org:x.git", "ssh URL not allowed"),
        ("ftp://example.org/x.git", "ftp URL not allowed"),
    ],
)
def test_disallowed_or_malicious_repositories_are_refused(server, repo, words):
    assert words in failed(server, repo=repo)
    assert not os.path.exists("/tmp/cygnet-pwned")


@pytest.mark.parametrize(
    "params, words",
    [
        ({"target": "../outside"}, "must stay inside the workspace"),
        ({"target": "/etc"}, "must stay inside the workspace"),
        ({"path": "../../etc/passwd"}, "must stay inside the workspace"),
        ({"bogus": "1"}, "unknown link parameter(s): bogus"),
    ],
)
def test_targets_and_paths_stay_inside_the_workspace(server, upstream, params, words):
    assert words in failed(server, repo=upstream.url, **params)


def test_symlink_escape_is_refused(server, upstream, tmp_path):
    link = unique("escape")
    os.symlink(tmp_path, server.root / link)
    assert "leads outside the workspace" in failed(server, repo=upstream.url, target=f"{link}/x")
    assert not list(tmp_path.iterdir())


def test_host_allow_list(tmp_path, upstream):
    settings = OpenSettings(policy=OpenPolicy(hosts=("git.example.org",)))
    with pytest.raises(BadInput, match="host 127.0.0.1 is not on this site's list"):
        open_link({"repo": upstream.url}, tmp_path, settings)
    allowed = OpenSettings(
        policy=OpenPolicy(hosts=(f"127.0.0.1:{upstream.url.split(':')[2].split('/')[0]}",), internal=("127.0.0.1",))
    )
    assert open_link({"repo": upstream.url}, tmp_path, allowed)


def test_a_server_that_never_answers_is_given_up_on_in_time(tmp_path):
    silent = SilentServer()
    try:
        settings = OpenSettings(policy=LOOPBACK, timeout=2)
        for params in (
            {"repo": f"http://127.0.0.1:{silent.port}/x.git"},
            {"url": f"http://127.0.0.1:{silent.port}/nb.ipynb"},
        ):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                open_link(params, tmp_path, settings)
            assert time.monotonic() - started < 15
    finally:
        silent.stop()
    assert not list(tmp_path.iterdir()), "nothing is left behind"


def test_a_clone_over_the_size_limit_is_stopped_and_removed(tmp_path, git_daemon):
    big = Upstream(git_daemon, unique("big"), {"blob.bin": os.urandom(3 << 20)})
    with pytest.raises(BadInput, match="larger than this site's limit"):
        open_link({"repo": big.url}, tmp_path, OpenSettings(policy=LOOPBACK, max_bytes=1 << 20))
    assert not list(tmp_path.iterdir())


def test_open_needs_login(server, upstream):
    r = requests.get(f"{server.url}/cygnet/api/open", params={"repo": upstream.url}, timeout=10)
    assert r.status_code == 403
    page = requests.get(f"{server.url}/cygnet/open", params={"repo": upstream.url}, timeout=10, allow_redirects=False)
    assert page.status_code == 302
    login = urlsplit(page.headers["Location"])
    assert login.path.endswith("/login")
    back = urlsplit(parse_qs(login.query)["next"][0])
    assert back.path == "/cygnet/open" and parse_qs(back.query) == {"repo": [upstream.url]}


def test_other_sites_pages_cannot_start_an_open(server, upstream):
    r = server.get("/cygnet/api/open", params={"repo": upstream.url}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "not from other sites' pages" in r.json()["message"]
    kind, _, _ = open_via_api(server, repo=upstream.url, target=unique("same"))
    assert kind == "done"


def test_rerun_after_a_crashed_clone_completes_and_sweeps_its_leftovers(tmp_path, upstream):
    stale = tmp_path / ".course.cloning-99999-1"
    (stale / ".git").mkdir(parents=True)
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert (
        open_link({"repo": upstream.url, "target": "course"}, tmp_path, OpenSettings(policy=LOOPBACK, timeout=60)).path
        == "course"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]


def test_open_page_feeds_from_the_event_stream(server, upstream):
    page = server.get("/cygnet/open", params={"repo": upstream.url})
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert 'data-api="/cygnet/api/open"' in page.text and '<script src="/static/cygnet/open.js' in page.text
    assert upstream.url not in page.text, "link parameters are never written into the page"


# --- downloads -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    (folder / "lesson.ipynb").write_text(NOTEBOOK)
    (folder / "notjson.ipynb").write_text("<html>")
    with zipfile.ZipFile(folder / "project.zip", "w") as z:
        z.writestr("project-main/README.md", "hello")
        z.writestr("project-main/nb/one.ipynb", NOTEBOOK)
    with zipfile.ZipFile(folder / "evil.zip", "w") as z:
        z.writestr("fine.txt", "ok")
        z.writestr("../../escaped.txt", "gotcha")
    served = StaticServer(folder)
    yield served.url
    served.stop()


def test_rerun_after_a_crashed_download_sweeps_its_partial_file(tmp_path, files):
    partial = tmp_path / ".lesson.ipynb.abc123.download"
    partial.write_text('{"cells": [')
    os.utime(partial, (time.time() - 3600, time.time() - 3600))
    assert (
        open_link({"url": f"{files}/lesson.ipynb"}, tmp_path, OpenSettings(policy=LOOPBACK, timeout=60)).path
        == "lesson.ipynb"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson.ipynb"]


def test_notebook_downloads_never_overwrite(server, files):
    target = unique("dl")
    first = opened(server, url=f"{files}/lesson.ipynb", target=target)
    second = opened(server, url=f"{files}/lesson.ipynb", target=target)
    assert first["url"] == f"/lab/tree/{target}/lesson.ipynb"
    assert second["url"] == f"/lab/tree/{target}/lesson-1.ipynb"
    assert json.loads((server.root / target / "lesson-1.ipynb").read_text())["nbformat"] == 4


def test_zip_is_unpacked_into_a_new_folder_each_time(server, files):
    target = unique("zip")
    first = opened(server, url=f"{files}/project.zip", target=target, path="nb/one.ipynb")
    assert first["path"] == f"{target}/project/project-main/nb/one.ipynb"
    second = opened(server, url=f"{files}/project.zip", target=target)
    assert second["path"] == f"{target}/project-1/project-main"


def test_malicious_zip_and_bad_downloads_are_refused(server, files):
    target = unique("evil")
    assert "would land outside its folder" in failed(server, url=f"{files}/evil.zip", target=target)
    assert not (server.root.parent / "escaped.txt").exists()
    assert not list((server.root / target).iterdir()), "nothing unpacked, no temporary files"
    assert "is not a Jupyter notebook" in failed(server, url=f"{files}/notjson.ipynb")
    assert "HTTP 404" in failed(server, url=f"{files}/missing.ipynb")
    assert "only .ipynb notebooks and .zip archives" in failed(server, url=f"{files}/page.html")
    assert "only http:// and https:// downloads" in failed(server, url="file:///etc/passwd.ipynb")


# --- links, compatibility, CLI -------------------------------------------------------------
def test_link_gives_a_shareable_url_and_badge(server, upstream):
    link = server.get("/cygnet/link", params={"repo": upstream.url, "path": "intro.ipynb"}).json()
    query = parse_qs(urlsplit(link["url"]).query)
    assert link["url"].startswith(f"{server.url}/cygnet/open?")
    assert query == {"repo": [upstream.url], "path": ["intro.ipynb"]}
    assert link["markdown"] == f"[![Open in Cygnet]({server.url}/cygnet/badge.svg)]({link['url']})"
    bad = server.get("/cygnet/link", params={"repo": upstream.url, "bogus": "1"})
    assert bad.status_code == 400 and "unknown link parameter(s): bogus" in bad.json()["message"]
    badge = requests.get(f"{server.url}/cygnet/badge.svg", timeout=10)  # public, for READMEs
    assert badge.status_code == 200 and badge.headers["Content-Type"] == "image/svg+xml"


def test_link_from_a_notebook_names_its_checkout(server, upstream):
    target = unique("linked")
    opened(server, repo=upstream.url, path="intro.ipynb", target=target)
    link = server.get("/cygnet/api/link", params={"from": f"{target}/intro.ipynb"}).json()
    assert parse_qs(urlsplit(link["url"]).query) == {
        "repo": [upstream.url],
        "branch": ["main"],
        "path": ["intro.ipynb"],
    }
    (server.root / "loose.ipynb").write_text(NOTEBOOK)
    outside = server.get("/cygnet/api/link", params={"from": "loose.ipynb"})
    assert outside.status_code == 404 and "not inside a Git repository" in outside.json()["message"]
    assert server.get("/cygnet/api/link", params={"from": "../etc/passwd"}).status_code == 400


def test_nbgitpuller_links_go_through_cygnet(server, upstream):
    r = server.get(
        "/git-pull",
        params={"repo": upstream.url, "branch": "main", "urlpath": "lab/tree/course/intro.ipynb"},
        allow_redirects=False,
    )
    assert r.status_code == 302
    target = urlsplit(r.headers["Location"])
    assert target.path == "/cygnet/open"
    assert parse_qs(target.query) == {"repo": [upstream.url], "branch": ["main"], "path": ["intro.ipynb"]}


def test_cli_open_and_link(tmp_path, upstream):
    loopback = "--Cygnet.open_internal_hosts=127.0.0.1"
    result = cygnet("open", upstream.url, "--path", "intro.ipynb", "--workspace", str(tmp_path), loopback)
    assert result.returncode == 0, result.stderr
    name = upstream.url.rsplit("/", 1)[1][:-4]
    assert result.stdout.strip() == str(tmp_path / name / "intro.ipynb")
    again = cygnet("open", upstream.url, "--workspace", str(tmp_path), loopback)
    assert again.returncode == 0 and "already here" in again.stderr
    bad = cygnet("open", "--workspace", str(tmp_path), "--", "--upload-pack=x")
    assert bad.returncode == 2 and "not a valid repository URL" in bad.stderr
    link = cygnet("link", upstream.url, "--base-url", "https://cygnet.example.org/")
    assert link.stdout.startswith("https://cygnet.example.org/cygnet/open?repo=")


def test_the_progress_page_and_its_script(server, tmp_path):
    """The page is a template and its script a static file of the extension: the script must
    load (no login needed for it) and parse, or every open breaks in browsers while the stream
    itself still works."""
    import re
    import subprocess

    page = server.get("/cygnet/open", params={"repo": "https://example.org/r.git?<x>"})
    assert page.status_code == 200 and 'data-api="/cygnet/api/open"' in page.text
    assert "<x>" not in page.text, "link parameters are never written into the page"
    script = re.search(r'<script src="([^"]+)"', page.text).group(1)
    served = requests.get(server.url + script, timeout=10)
    assert served.status_code == 200 and "EventSource" in served.text
    (tmp_path / "open.js").write_text(served.text)
    checked = subprocess.run(["node", "--check", str(tmp_path / "open.js")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
