"""Real-time co-editing (jupyter-collaboration, set up by cygnet.server.collaboration): two
browsers on one notebook see each other's edits and the outputs of cells either runs; users are
named after the account, not "Anonymous"; the collaboration's stores stay out of the workspace,
private to the account. A real `cygnet up` on a test view, and headless Chromium."""

import getpass
import os
import stat

import pytest

from cygnet.server.collaboration import store_folder
from tests.support.cli import PLATFORM
from tests.support.jupyter import JupyterServer
from tests.support.views import kernel_name, lcg_view
from tests.support.waiting import wait_for
from tests.test_lab_e2e import CHROMIUM, browser, fresh_page, notebook, open_lab, run_cell, shot  # noqa: F401 - browser: a fixture

KERNEL = kernel_name("LCG_collab", PLATFORM)
JUPYTER_LEFTOVERS = (".jupyter_ystore.db", ".jupyter")  # what jupyter-collaboration writes by default


@pytest.fixture(scope="module")
def collab(tmp_path_factory, kernel_site):
    views = tmp_path_factory.mktemp("collab-views")
    lcg_view(views, "LCG_collab", PLATFORM, kernel_site=kernel_site)
    workspace = tmp_path_factory.mktemp("collab-workspace")
    (workspace / "together.ipynb").write_text(notebook(KERNEL, [("code", "print('first' + ' draft')")]))
    data = tmp_path_factory.mktemp("collab-data")
    env = {"CYGNET_DATA_DIR": str(data), "CYGNET_VIEWS_PATH": str(views)}
    args = [
        "--Cygnet.build_default_view=False",
        f"--Cygnet.default_view=LCG_collab/{PLATFORM}",
        f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('collab-layouts')}",
    ]
    with JupyterServer(env=env, root=workspace, args=args) as srv:
        yield srv


def test_the_session_names_its_user_after_the_account_and_keeps_collaboration_state_private(collab):
    me = collab.get("/api/me").json()["identity"]
    assert me["username"] == getpass.getuser()
    assert not me["name"].startswith("Anonymous"), me
    # A document session, as JupyterLab asks for one before it joins a notebook's room.
    r = collab.http.put(
        f"{collab.url}/api/collaboration/session/together.ipynb", json={"format": "json", "type": "notebook"}
    )
    assert r.status_code in (200, 201), r.text
    assert r.json()["fileId"], r.text
    folder = store_folder(collab.data_dir, collab.root)
    assert (folder / "file-ids.db").exists(), sorted(p.name for p in folder.iterdir())
    for path in (folder, folder.parent):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
    assert not [p for p in JUPYTER_LEFTOVERS if (collab.root / p).exists()]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)")
def test_two_browsers_on_one_notebook_see_each_others_edits_and_outputs(collab, browser):  # noqa: F811 - the fixture
    (context_a, a), (context_b, b) = fresh_page(browser), fresh_page(browser)
    try:
        for page in (a, b):
            open_lab(page, collab, "together.ipynb")
            page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content")
        cell_a = a.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        cell_b = b.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        # An edit in one browser shows in the other,
        cell_a.locator(".cm-content").click()
        a.keyboard.press("Control+a")
        a.keyboard.type("print('written' + ' together')")
        cell_b.locator(".cm-content", has_text="written' + ' together").wait_for()
        # with the other's cursor, flagged with their name while they type (both browsers are
        # the account's owner here).
        cell_b.locator(".jp-remote-cursor").first.wait_for(state="attached")
        a.keyboard.type("  ")
        b.locator(".jp-remote-userFlag-name", has_text=getpass.getuser()).first.wait_for(state="attached")
        # A cell run in one browser: its output shows in the other.
        a.wait_for_selector("text=| Idle", timeout=120_000)
        run_cell(a, cell_a)
        cell_b.locator(".jp-OutputArea-output", has_text="written together").wait_for(timeout=120_000)
        shot(b, "collaboration-second-browser")
        # And both are saved to the file the notebook is (the document is the server's).
        wait_for(
            lambda: "written' + ' together" in (collab.root / "together.ipynb").read_text(),
            "the co-edited cell saved to the file",
            timeout=60,
        )
    finally:
        context_a.close()
        context_b.close()
    assert not [p for p in JUPYTER_LEFTOVERS if (collab.root / p).exists()]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)")
def test_the_history_dialog_diffs_a_checkpoint_and_restores_it_into_the_open_notebook(collab, browser):  # noqa: F811 - the fixture
    (collab.root / "fit.ipynb").write_text(notebook(KERNEL, [("code", "fit(model='gauss')")]))
    assert collab.post("/api/contents/fit.ipynb/checkpoints").status_code == 201
    (collab.root / "fit.ipynb").write_text(notebook(KERNEL, [("code", "fit(model='landau')")]))
    context, page = fresh_page(browser)
    try:
        open_lab(page, collab, "fit.ipynb")
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        cell.locator(".cm-content", has_text="landau").wait_for()
        page.click(".jp-NotebookPanel:not(.lm-mod-hidden) .cygnet-toolbar-history")
        page.locator(".cygnet-history-item", has_text="checkpoint").wait_for()
        page.click(".cygnet-history-item .cygnet-history-show-diff")
        page.locator(".cygnet-history-diff", has_text="gauss").wait_for()
        assert "landau" in page.inner_text(".cygnet-history-diff")
        shot(page, "history-diff")
        page.click(".cygnet-history-item .cygnet-history-restore")
        page.click(".jp-Dialog-button.jp-mod-warn")  # Restore this version?
        page.locator(".Toastify__toast", has_text="restored").first.wait_for()
        # The open notebook shows the restored version (the file changed under the document).
        cell.locator(".cm-content", has_text="gauss").wait_for(timeout=60_000)
        shot(page, "history-restored")
    finally:
        context.close()
    # and the file is the version, whatever the open document saved meanwhile
    wait_for(lambda: "gauss" in (collab.root / "fit.ipynb").read_text(), "the restored version in the file", timeout=30)
    assert "landau" not in (collab.root / "fit.ipynb").read_text()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)")
def test_a_cells_outputs_outlive_the_browser_that_ran_it(collab, browser):  # noqa: F811 - the fixture
    """The browser that ran a cell closes while it runs; what the cell prints afterwards is in
    the notebook (cygnet.server.output_keeper): in the file, and in the next browser to open it."""
    go = collab.root / "go-on"
    go.unlink(missing_ok=True)
    code = (
        "import os, time\n"
        "print('before the browser closed', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.05)\n"
        "print('after the browser closed', flush=True)\n"
        "'the result'"
    )
    (collab.root / "long.ipynb").write_text(notebook(KERNEL, [("code", code)]))
    context, page = fresh_page(browser)
    try:
        open_lab(page, collab, "long.ipynb")
        page.wait_for_selector("text=| Idle", timeout=120_000)
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        run_cell(page, cell)
        cell.locator(".jp-OutputArea-output", has_text="before the browser closed").wait_for(timeout=120_000)
        gone = collab.log().count("Starting buffering for")  # the server's line when a kernel's last browser goes
    finally:
        context.close()  # the browser goes while the cell still runs
    wait_for(lambda: collab.log().count("Starting buffering for") > gone, "the server saw the browser go", timeout=60)
    go.touch()  # now the cell goes on, with nobody watching

    def saved_outputs():
        import json

        cells = json.loads((collab.root / "long.ipynb").read_text())["cells"]
        return cells[0]["outputs"] if "the result" in json.dumps(cells[0]["outputs"]) else None

    # A read racing a save may meet a half-written file (Jupyter writes in place): not saved yet.
    outputs = wait_for(
        saved_outputs, "the outputs after the browser closed, saved in the notebook", timeout=120, passing=(ValueError,)
    )
    text = "".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", [])) for o in outputs)
    assert text.count("before the browser closed") == 1 and text.count("after the browser closed") == 1, outputs
    assert [o["output_type"] for o in outputs] == ["stream", "execute_result"], outputs

    context, page = fresh_page(browser)  # the user comes back
    try:
        open_lab(page, collab, "long.ipynb")
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        cell.locator(".jp-OutputArea-output", has_text="after the browser closed").wait_for(timeout=120_000)
        cell.locator(".jp-OutputArea-output", has_text="the result").wait_for()
        cell.locator(".jp-InputPrompt", has_text="[1]").wait_for()  # its execution count too
        shot(page, "outputs-after-the-browser-closed")
    finally:
        context.close()
        go.unlink(missing_ok=True)
