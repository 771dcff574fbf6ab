"""The JupyterLab front end in a real browser: Debian's Chromium driven by Playwright against a
real `cygnet up` server, a real Spark-capable view kernel and a real git daemon. Each scenario
saves a screenshot of its final state under test-output/e2e/ for a person to look at."""

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import PLATFORM
from tests.support.gitserve import Upstream
from tests.support.jupyter import JupyterServer, free_port
from tests.support.waiting import wait_for

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("CYGNET_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output")) / "e2e"
KERNEL = f"sparktest__{PLATFORM}".lower()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SLOW = 180_000  # ms: a first local Spark session takes about 15 s here, more on a busy machine

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
)


def notebook(kernel, cells):
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": kind,
                    "metadata": {},
                    "source": source,
                    "id": f"c{i}",
                    **({"outputs": [], "execution_count": None} if kind == "code" else {}),
                }
                for i, (kind, source) in enumerate(cells)
            ],
            "metadata": {"kernelspec": {"name": kernel, "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory, spark_view, kdc, connect_server):
    workspace = tmp_path_factory.mktemp("lab-workspace")
    (workspace / "analysis.ipynb").write_text(
        notebook(
            KERNEL,
            [
                ("markdown", "# Dimuon spectrum\nA shared analysis."),
                ("code", "spark.range(100000).selectExpr('sum(id) AS total').collect()[0].total"),
            ],
        )
    )
    catalogue = tmp_path_factory.mktemp("lab-site") / "clusters.json"
    catalogue.write_text(
        json.dumps(
            {
                "clusters": [
                    {"name": "local", "kind": "local", "master": "local[2]", "display_name": "Local"},
                    {
                        "name": "offline",
                        "kind": "standalone",
                        "master": f"spark://127.0.0.1:{free_port()}",
                        "display_name": "Offline cluster",
                    },
                    {"name": "connect", "kind": "connect", "remote": connect_server["url"], "display_name": "Connect"},
                    {"name": "mine", "kind": "connect-managed", "master": "local[1]", "display_name": "My server"},
                ]
            }
        )
    )
    env = {
        **kdc.env,  # the test realm: the Kerberos status item has something to show
        "SPARK_LOCAL_IP": "127.0.0.1",
        "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("lab-data")),
        "CYGNET_VIEWS_PATH": str(spark_view),
    }
    srv = JupyterServer(
        env=env,
        root=workspace,
        args=[
            f"--Cygnet.spark_clusters={catalogue}",
            "--Cygnet.spark_port_range=41100-41111",
            f"--Cygnet.default_view=sparktest/{PLATFORM}",
            "--Cygnet.open_internal_hosts=127.0.0.1",
            "--Cygnet.runs_min_interval=2",
            "--Cygnet.runs_check_every=0.5",
            f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('lab-workspaces')}",
        ],
    )  # no layout from other runs
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def fresh_page(browser):
    """A page in a context of its own (no cookies or layout from other tests); closes with it."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


@pytest.fixture
def page(browser, lab):
    context, page = fresh_page(browser)
    yield page
    context.close()


def open_lab(page, lab, path=""):
    """JupyterLab at `path`, with the file browser showing (earlier tests may have left another
    panel open in the saved layout)."""
    page.goto(f"{lab.url}/lab{'/tree/' + path if path else ''}?token={lab.token}")
    page.wait_for_selector(".jp-DirListing-item", state="attached")
    # The saved layout is restored a moment later (under the splash screen) and may switch the
    # sidebar to another panel after a first look found the file browser showing.
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    deadline = time.monotonic() + 60
    while not page.is_visible(".jp-DirListing-item"):
        assert time.monotonic() < deadline, "the file browser did not show"
        if not page.is_visible(".jp-DirListing"):
            page.click(".jp-SideBar [data-id='filebrowser']")
        page.wait_for_timeout(250)


def restart_kernel(page, tries=3):
    """Restart the current notebook's kernel from the Kernel menu; the server's answer (it answers
    once the new kernel is up). Once in CI the dialog's Restart was clicked and no restart was
    asked for (a click that landed while the dialog still opened): the menu is used again then."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        page.click(".lm-MenuBar-itemLabel:text-is('Kernel')")
        page.click(".lm-Menu-item:has-text('Restart Kernel…')")
        accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Restart")
        try:
            accept.wait_for(timeout=20_000)  # once in CI the menu's click opened no dialog: asked again
            with page.expect_response(
                lambda r: "/restart" in r.url and r.request.method == "POST", timeout=60_000
            ) as restarted:
                accept.click()
            return restarted.value
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")  # a dialog still open goes before the next try


def saved_choice(lab, path, engine):
    """The engine's choice in the notebook's metadata once the save has reached the server."""

    def choice():
        # Jupyter writes a notebook in place (after a backup copy), so a read racing the save can get an
        # error for a half-written file: that counts as not saved yet.
        answer = lab.get(f"/api/contents/{path}")
        if answer.status_code != 200:
            return None
        return answer.json()["content"]["metadata"].get("cygnet", {}).get(engine)

    return wait_for(choice, f"{path} saved with its {engine} choice", timeout=60)


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def from_palette(page, label):
    """Run a command from the command palette. Its shortcut is pressed again while the palette
    does not show: a JupyterLab that is still restoring its layout can let a key press go by."""
    from playwright.sync_api import TimeoutError as PageTimeout

    deadline = time.monotonic() + 60
    while not page.is_visible(".lm-CommandPalette-input"):
        assert time.monotonic() < deadline, "the command palette did not open"
        page.keyboard.press("Control+Shift+c")
        try:
            page.wait_for_selector(".lm-CommandPalette-input", state="visible", timeout=5000)
        except PageTimeout:
            continue
    page.fill(".lm-CommandPalette-input", label)
    page.keyboard.press("Enter")


def run_cell(page, cell, tries=3):
    """Run `cell` (a locator) with Shift+Enter, again if the keys were lost (the editor was not
    focused yet on a busy machine): until its prompt shows it queued or ran ([*] or [N])."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue  # not run: focus the editor and press again
    shot(page, "cell-not-run")
    raise AssertionError("the cell did not run after Shift+Enter (see cell-not-run.png)")


def test_lab_lists_the_extension_as_enabled(lab):
    out = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(r"cygnet-lab v\S+ .*enabled.*OK", out.stdout + out.stderr)


def test_spark_panel_connects_a_notebook_and_shows_job_progress(page, lab):
    open_lab(page, lab, "analysis.ipynb")
    page.wait_for_selector(".jp-Notebook")
    # The kernel's view in the status bar.
    page.wait_for_selector(f".cygnet-view-status:has-text('sparktest · {PLATFORM}')")

    page.click(".cygnet-toolbar-spark:visible")
    status = page.locator(".cygnet-spark-status")
    page.wait_for_selector(".cygnet-spark-status[data-state='disconnected']", timeout=SLOW)
    assert page.locator(".cygnet-spark-cluster option").all_inner_texts() == [
        "Local (local)",
        "Offline cluster (standalone)",
        "Connect (connect)",
        "My server (connect-managed)",
        "Dask (this machine) (dask-local)",
    ]

    # A failure comes back as the panel's error and a notification, and the kernel stays usable.
    page.select_option(".cygnet-spark-cluster", "offline")
    page.click(".cygnet-spark-connect")
    page.wait_for_selector(".cygnet-spark-status[data-state='error']", timeout=SLOW)
    assert "cannot reach the Spark master of offline" in page.inner_text(".cygnet-spark-error")
    page.wait_for_selector(".Toastify__toast:has-text('cannot reach the Spark master')")

    # Option autocompletion from the options catalogue.
    page.select_option(".cygnet-spark-cluster", "local")
    page.fill(".cygnet-spark-option-name", "spark.executor.mem")
    assert "spark.executor.memory" in page.eval_on_selector_all(
        "#cygnet-spark-known-options option", "nodes => nodes.map(n => n.value)"
    )
    page.press(".cygnet-spark-option-name", "Enter")
    page.fill(".cygnet-spark-options", "spark.sql.shuffle.partitions=4")

    page.click(".cygnet-spark-connect")
    page.wait_for_selector(".cygnet-spark-status[data-state='connected']", timeout=SLOW)
    assert status.inner_text() == "Connected to local"
    connect_button = page.locator(".cygnet-spark-connect")  # the buttons say the state too
    assert connect_button.inner_text() == "Connected" and connect_button.is_disabled()
    assert page.locator(".cygnet-spark-disconnect").is_enabled()
    ui = page.get_attribute(".cygnet-spark-ui", "href")
    assert re.match(r"/cygnet/spark-ui/411(0\d|1[01])/$", ui), ui  # through the server, a leased port
    spark_ui = page.context.new_page()  # the browser's own login reaches it, in a new tab
    spark_ui.goto(f"{lab.url}{ui}")
    spark_ui.wait_for_selector("text=Spark Jobs")
    spark_ui.close()
    page.wait_for_selector(".cygnet-spark-log:has-text('local')")

    # Run the Spark cell: its result, and sparkmonitor's live display under it.
    page.click(".jp-CodeCell .cm-content")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".jp-OutputArea-output:has-text('4999950000')", timeout=SLOW)
    page.wait_for_selector(".sparkMonitorCellRoot", timeout=SLOW)
    shot(page, "spark-connected")

    # The choice is saved in the notebook, so reopening it (or %spark connect) finds it.
    page.keyboard.press("Control+s")
    saved = saved_choice(lab, "analysis.ipynb", "spark")
    assert saved == {"cluster": "local", "bundles": [], "options": {"spark.sql.shuffle.partitions": "4"}}

    page.click(".cygnet-spark-disconnect")
    page.wait_for_selector(".cygnet-spark-status[data-state='disconnected']", timeout=SLOW)
    assert page.locator(".cygnet-spark-connect").inner_text() == "Connect"


def test_the_compute_panel_starts_scales_and_shows_a_dask_cluster(page, lab):
    (lab.root / "dask.ipynb").write_text(
        notebook(KERNEL, [("code", "import dask.array as da\nint(da.ones(10_000, chunks=1000).sum().compute())")])
    )
    open_lab(page, lab, "dask.ipynb")
    page.wait_for_selector(".jp-Notebook:visible")  # the layout may hold another notebook, hidden
    page.click(".cygnet-toolbar-spark:visible")
    page.wait_for_selector(".cygnet-spark-status[data-state='disconnected']", timeout=SLOW)
    # Both engines' kernel sides have answered, so the notebook's saved choice is shown already and
    # will not replace what is chosen below (on a busy machine it could, after the click).
    page.wait_for_selector(".cygnet-spark-panel[data-dask-state='disconnected']", timeout=SLOW)
    page.select_option(".cygnet-spark-cluster", "dask-local")
    assert page.locator(".cygnet-spark-bundles").is_hidden() and page.locator(".cygnet-dask-workers").is_visible()
    page.fill(".cygnet-dask-workers", "10000")  # more than the session has: the kernel says so
    page.click(".cygnet-spark-connect")
    page.wait_for_selector(".cygnet-spark-panel[data-dask-state='error']", timeout=SLOW)
    assert "10000 workers is more than dask-local allows" in page.inner_text(".cygnet-spark-error")
    page.fill(".cygnet-dask-workers", "1")
    page.click(".cygnet-spark-connect")
    page.wait_for_selector(".cygnet-spark-panel[data-dask-state='connected']", timeout=SLOW)
    assert page.inner_text(".cygnet-spark-status") == "Connected to dask-local"
    page.wait_for_selector(".cygnet-dask-details:has-text('1 worker')")
    dashboard = page.get_attribute(".cygnet-dask-dashboard", "href")
    assert re.match(r"/cygnet/dask-dashboard/411(0\d|1[01])/status$", dashboard), dashboard
    tab = page.context.new_page()  # the browser's own login reaches it
    tab.goto(f"{lab.url}{dashboard}")
    tab.wait_for_selector("a[href='individual-task-stream']", state="attached", timeout=SLOW)
    assert "Dask" in tab.title(), tab.title()
    tab.close()
    # The notebook's `client` is the panel's cluster.
    page.click(".jp-Notebook:visible .jp-CodeCell .cm-content")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".jp-Notebook:visible .jp-OutputArea-output:has-text('10000')", timeout=SLOW)
    # JupyterLab's autosave can land just before this save; its "File Changed" check then takes
    # its own earlier save for someone else's and asks. This browser's copy is the newest.
    page.add_locator_handler(
        page.locator(".jp-Dialog", has_text="has changed on disk"),
        lambda dialog: dialog.get_by_role("button", name="Overwrite").click(),
    )
    page.keyboard.press("Control+s")  # the choice is kept with the notebook, as Spark's is
    saved = saved_choice(lab, "dask.ipynb", "dask")
    assert saved == {"cluster": "dask-local", "workers": 1, "options": {}}
    page.fill(".cygnet-dask-scale-to", "2")
    page.click(".cygnet-dask-scale")
    page.wait_for_selector(".cygnet-dask-details:has-text('2 workers')", timeout=SLOW)
    shot(page, "dask-connected")
    page.click(".cygnet-spark-disconnect")
    page.wait_for_selector(".cygnet-spark-panel[data-dask-state='disconnected']", timeout=SLOW)


def test_reopening_a_notebook_shows_its_saved_spark_choice(page, lab):
    nb = json.loads(notebook(KERNEL, [("code", "1 + 1")]))
    nb["metadata"]["cygnet"] = {
        "spark": {"cluster": "offline", "bundles": [], "options": {"spark.executor.memory": "2g"}}
    }
    (lab.root / "saved-choice.ipynb").write_text(json.dumps(nb))
    open_lab(page, lab, "saved-choice.ipynb")
    page.click(".cygnet-toolbar-spark:visible")
    page.wait_for_function("document.querySelector('.cygnet-spark-cluster').value === 'offline'")
    assert page.input_value(".cygnet-spark-options") == "spark.executor.memory=2g"


def test_share_link_from_the_file_browser_then_revoke(page, lab, browser):
    open_lab(page, lab)
    page.click(".jp-DirListing-item:has-text('analysis.ipynb')", button="right")
    page.click(".lm-Menu-item:has-text('Share…')")
    page.fill(".cygnet-share-expiry", "7 days")
    page.click(".cygnet-share-create")
    page.wait_for_selector(".cygnet-share-message:has-text('not like 30m')")  # refused before any request
    page.fill(".cygnet-share-expiry", "7d")
    page.click(".cygnet-share-create")
    page.wait_for_function("document.querySelector('.cygnet-share-link').value.includes('/cygnet/s/')")
    link = page.input_value(".cygnet-share-link")
    page.wait_for_selector(".cygnet-share-list .cygnet-share-row:has-text('expires in 6 days')")

    # A logged-out browser sees the rendered notebook.
    visitor = browser.new_context()
    public = visitor.new_page()
    answer = public.goto(link)
    assert answer.status == 200
    public.wait_for_selector("text=Dimuon spectrum")
    assert "sandbox" in answer.headers["content-security-policy"]
    shot(public, "share-public-page")

    shot(page, "share-dialog")
    page.click(".cygnet-share-list .cygnet-share-revoke")
    page.wait_for_selector(".cygnet-share-list li:has-text('none')")
    assert public.goto(link).status == 404
    shot(public, "share-revoked")
    visitor.close()


def test_shared_panel_lists_my_links(page, lab):
    created = lab.post("/cygnet/api/shares", json={"path": "analysis.ipynb"}).json()
    open_lab(page, lab)
    page.click(".jp-SideBar [data-id='cygnet-shared-panel']")
    page.wait_for_selector(".cygnet-shared-mine .cygnet-share-row:has-text('analysis.ipynb')")
    shot(page, "shared-panel")
    lab.delete(f"/cygnet/api/shares/{created['id']}")


def test_open_git_repository_command_lands_in_the_notebook(page, lab, git_daemon):
    upstream = Upstream(
        git_daemon,
        "lab-course",
        {
            "intro.ipynb": notebook(KERNEL, [("markdown", "# Welcome to the course")]),
            "results.ipynb": notebook(KERNEL, [("markdown", "Events selected: 41")]),
        },
    )
    open_lab(page, lab)
    from_palette(page, "Open Git Repository")
    page.fill(".cygnet-open-repo", upstream.url)
    page.fill(".cygnet-open-path", "intro.ipynb")
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_url(re.compile(r"/lab/tree/.*intro\.ipynb"), timeout=SLOW)
    page.wait_for_selector(".jp-RenderedMarkdown h1:has-text('Welcome to the course')")
    assert (lab.root / "lab-course" / "intro.ipynb").exists()
    shot(page, "open-git-repository")

    # The Git panel knows the clone: the user's change to a notebook is listed, and its diff
    # against the repository's version is nbdime's, cell by cell.
    (lab.root / "lab-course" / "results.ipynb").write_text(notebook(KERNEL, [("markdown", "Events selected: 42")]))
    page.click(".jp-SideBar [data-id='jp-git-sessions']")
    changed = page.wait_for_selector("[title='results.ipynb • Modified']", timeout=SLOW)
    changed.hover()
    page.click("[title='results.ipynb • Modified'] button[title='Diff this file']")
    page.wait_for_selector(".nbdime-Widget :text('Events selected: 42')", timeout=SLOW)
    shot(page, "git-notebook-diff")


def test_sync_to_box_shows_the_summary(page, lab):
    (lab.root / "results").mkdir(exist_ok=True)
    (lab.root / "results" / "histogram.csv").write_text("bin,count\n1,10\n")
    open_lab(page, lab, "results")
    from_palette(page, "Sync to Box")
    assert page.input_value(".cygnet-sync-src") == "results"
    page.click(".jp-Dialog-button.jp-mod-accept")
    # The job's last word, whichever it is, so that a failure says what the user saw.
    ended = ", ".join(f".Toastify__toast:has-text('{word}')" for word in ("Synced:", "Sync failed", "Sync:"))
    toast = page.wait_for_selector(ended, timeout=SLOW)
    assert "Synced: 1 copied" in toast.inner_text()
    shot(page, "sync-summary")


def test_kerberos_status_then_authenticate_from_the_status_bar(page, lab):
    open_lab(page, lab)
    status = page.locator(".cygnet-kerberos-status")
    status.wait_for()
    assert status.inner_text() == "Kerberos: no ticket"
    status.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".cygnet-kerberos-principal").fill("alice")
    dialog.locator(".cygnet-kerberos-password").fill("wrong")
    dialog.get_by_role("button", name="Authenticate").click()
    page.get_by_text("wrong password for alice").first.wait_for()
    status.click()
    dialog.locator(".cygnet-kerberos-principal").fill("alice")
    dialog.locator(".cygnet-kerberos-password").fill("alice-password")
    dialog.get_by_role("button", name="Authenticate").click()
    page.wait_for_function(
        "document.querySelector('.cygnet-kerberos-status').textContent.includes('alice@CYGNET.TEST')"
    )
    assert re.fullmatch(r"Kerberos: alice@CYGNET\.TEST · (\d+h )?\d+m left", status.inner_text()), status.inner_text()
    shot(page, "kerberos-status")
    assert lab.delete("/cygnet/api/kerberos").status_code == 204


def test_connect_progress_shows_under_the_cell_and_its_cancel_stops_the_job(page, lab):
    """Spark Connect's progress in the browser (stages, tasks), and the Cancel control beside it:
    the cell's job is cancelled, the session stays connected, the next cell runs."""
    cells = [
        ("code", "%spark connect --cluster connect"),
        ("code", "spark.range(0, 10**12, 1, 8).selectExpr('sum(sqrt(id))').collect()"),
        ("code", "print('after', spark.range(5).count())"),
    ]
    (lab.root / "connect-progress.ipynb").write_text(notebook(KERNEL, cells))
    open_lab(page, lab, "connect-progress.ipynb")
    page.wait_for_selector("text=| Idle", timeout=SLOW)  # the notebook's kernel is up (status bar)
    code_cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")  # this tab's, not another's
    run_cell(page, code_cells.first)
    try:
        page.wait_for_selector(".jp-OutputArea-output:has-text('connected to connect')", timeout=SLOW)
    finally:
        shot(page, "connect-connecting")  # what the cell showed, for a failure's diagnosis
    run_cell(page, code_cells.nth(1))  # the long job
    page.wait_for_function(
        "[...document.querySelectorAll('.cygnet-spark-progress')].some("
        "d => /\\d+\\/8 tasks done, [1-9]\\d* running/.test(d.textContent))",
        timeout=SLOW,
    )
    shot(page, "connect-progress")
    page.click(".cygnet-spark-cancel:visible")
    page.wait_for_selector(".jp-OutputArea-output:has-text('its Spark jobs cancelled')", timeout=60_000)
    page.wait_for_selector("text=| Idle", timeout=60_000)
    run_cell(page, code_cells.nth(2))  # the session still answers
    page.wait_for_selector(".jp-OutputArea-output:has-text('after 5')", timeout=60_000)
    assert code_cells.nth(1).locator(".cygnet-spark-progress").count() == 1  # one display per query, cancelled too
    shot(page, "connect-cancelled")


def test_progress_still_shows_after_a_kernel_restart(page, lab):
    """sparkmonitor's display under cells after the kernel restarted (its comm is opened anew)."""
    cells = [("code", "%spark connect --cluster local"), ("code", "spark.range(1000).selectExpr('sum(id)').collect()")]
    (lab.root / "restart-progress.ipynb").write_text(notebook(KERNEL, cells))
    open_lab(page, lab, "restart-progress.ipynb")
    page.wait_for_selector("text=| Idle", timeout=SLOW)
    restarted = restart_kernel(page)
    assert restarted.ok, restarted.text()
    page.wait_for_selector("text=| Idle", timeout=SLOW)
    code_cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    code_cells.first.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".jp-OutputArea-output:has-text('connected to local')", timeout=SLOW)
    page.keyboard.press("Shift+Enter")
    code_cells.nth(1).locator(".sparkMonitorCellRoot").wait_for(state="attached", timeout=SLOW)
    shot(page, "progress-after-restart")
    code_cells.first.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("%spark disconnect")
    page.keyboard.press("Shift+Enter")


def test_the_spark_panel_starts_lists_and_stops_my_connect_server(page, lab):
    open_lab(page, lab, "analysis.ipynb")
    page.click(".cygnet-toolbar-spark:visible")
    page.wait_for_selector(".cygnet-spark-server-none")  # none running yet
    assert page.locator(".cygnet-spark-server-start").is_hidden()  # not for a local cluster
    page.select_option(".cygnet-spark-cluster", "mine")
    page.click(".cygnet-spark-server-start")
    try:
        page.wait_for_selector(".cygnet-spark-server[data-state='ready']", timeout=SLOW)
    finally:
        shot(page, "spark-managed-server")
    assert page.inner_text(".cygnet-spark-server-name") == f"mine · sparktest/{PLATFORM}"
    page.click(".cygnet-spark-server-log summary")
    page.wait_for_selector(".cygnet-spark-server-log pre")
    shot(page, "spark-managed-server")
    page.click(".cygnet-spark-server-stop")
    page.wait_for_selector(".cygnet-spark-server-none")
    page.select_option(".cygnet-spark-cluster", "local")


# --- kernels a view ships, terminals in a view, a repository's environment ---------------------
@pytest.fixture
def langs_page(browser, langs):
    context, page = fresh_page(browser)
    yield page
    context.close()


def test_an_r_notebook_runs_in_its_view_and_the_spark_panel_says_spark_is_for_python(langs_page, langs):
    server, _, workspace = langs
    page = langs_page
    r_kernel = f"lcg_langs__{PLATFORM}__ir".lower()
    nb = json.loads(notebook(r_kernel, [("code", 'cat(Sys.getenv("CYGNET_TEST_MARKER"))')]))
    nb["metadata"]["kernelspec"] = {"name": r_kernel, "display_name": "R", "language": "R"}
    (workspace / "spectrum.ipynb").write_text(json.dumps(nb))
    open_lab(page, server, "spectrum.ipynb")
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    page.wait_for_selector(f"{panel} .jp-Toolbar-kernelName:has-text('R (LCG_langs')")
    page.wait_for_selector(f".cygnet-view-status:has-text('LCG_langs · {PLATFORM}')")
    page.wait_for_selector(
        f"{panel} .jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=SLOW
    )
    page.click(f"{panel} .jp-Cell .jp-InputArea-editor")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(f"{panel} .jp-OutputArea-output:has-text('marker-LCG_langs')", timeout=SLOW)
    page.click(".cygnet-toolbar-spark:visible")
    page.wait_for_selector("text=Spark is for Python kernels")
    shot(page, "r-kernel-in-view")


def test_a_terminal_in_a_chosen_view(langs_page, langs):
    server, views, workspace = langs
    page = langs_page
    open_lab(page, server)
    from_palette(page, "New Terminal in View")
    page.select_option(".jp-Dialog select", f"LCG_plain/{PLATFORM}")
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_selector(".jp-Terminal:visible .xterm-screen")
    page.locator(".jp-Terminal:visible .xterm-helper-textarea").focus()
    # xterm draws on a canvas: the shell writes what it sees into the workspace instead. Keys
    # typed while bash still starts can be lost, so the line is cleared and typed again until
    # the file appears.
    written = workspace / "terminal-view.txt"
    written.unlink(missing_ok=True)
    deadline = time.monotonic() + 30
    while not (written.exists() and written.read_text().strip()) and time.monotonic() < deadline:
        page.keyboard.press("Control+c")
        page.keyboard.type('echo "VIEW=$CYGNET_VIEW" > terminal-view.txt\n')
        for _ in range(15):
            if written.exists():
                break
            time.sleep(0.2)
    shot(page, "terminal-in-view")
    assert written.exists(), "the terminal did not run the command (see the screenshot)"
    assert written.read_text().strip() == f"VIEW=LCG_plain/{PLATFORM}"


def test_open_git_repository_can_build_its_environment(page, lab, git_daemon):
    upstream = Upstream(
        git_daemon,
        "lab-env-course",
        {
            "requirements.txt": "six==1.17.0\n",
            "fit.ipynb": notebook(KERNEL, [("code", "import six; print(six.__file__)")]),
        },
    )
    open_lab(page, lab)
    from_palette(page, "Open Git Repository")
    page.fill(".cygnet-open-repo", upstream.url)
    page.fill(".cygnet-open-path", "fit.ipynb")
    page.check(".cygnet-open-env")
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_url(re.compile(r"/lab/tree/.*fit\.ipynb"), timeout=SLOW)
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    page.wait_for_selector(f"{panel} .jp-Toolbar-kernelName:has-text('Python 3 (env-')", timeout=SLOW)
    shot(page, "open-with-its-environment")


def test_run_as_batch_job_from_the_file_browser_then_the_runs_panel(page, lab):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("energy = 13.6")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print('energy is', energy)")]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(lab.root / "scan.ipynb"))
    open_lab(page, lab, "scan.ipynb")  # the file browser at its folder, whatever earlier tests left
    page.click(".jp-DirListing-item[title^='Name: scan.ipynb']", button="right")
    page.click(".lm-Menu-item:has-text('Run as Batch Job')")
    page.wait_for_selector(".cygnet-run-parameter[name='energy']")
    assert page.input_value(".cygnet-run-parameter[name='energy']") == "13.6", "prefilled from its parameters cell"
    page.fill(".cygnet-run-parameter[name='energy']", "7")
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_selector(".Toastify__toast:has-text('submitted')")
    page.click(".jp-SideBar [data-id='cygnet-runs-panel']")
    page.wait_for_selector(".cygnet-run[data-state='succeeded']:has-text('scan.ipynb')", timeout=SLOW)
    page.wait_for_selector(".Toastify__toast:has-text('Run of scan.ipynb succeeded')", timeout=SLOW)
    shot(page, "runs-panel")
    page.click(".cygnet-run[data-state='succeeded'] .cygnet-run-open")
    page.wait_for_selector(".jp-OutputArea-output:has-text('energy is 7')")
    shot(page, "run-result")

    # The same dialog schedules it: at an interval, with a signed webhook told of every run.
    from tests.support.mailbox import WebhookReceiver

    hook = WebhookReceiver()
    try:
        page.click(".jp-SideBar [data-id='filebrowser']")  # back from the Runs panel
        page.click(".jp-DirListing-item[title^='Name: scan.ipynb']", button="right")
        page.click(".lm-Menu-item:has-text('Run as Batch Job')")
        page.wait_for_selector(".cygnet-run-when")
        page.select_option(".cygnet-run-when", "every")
        page.fill(".cygnet-run-every", "3s")
        page.select_option(".cygnet-run-notify-on", "ended")
        page.fill(".cygnet-run-webhook", hook.url)
        page.click(".jp-Dialog-button.jp-mod-accept")
        page.wait_for_selector(".cygnet-webhook-secret")  # shown once
        secret = page.input_value(".cygnet-webhook-secret")
        page.click(".jp-Dialog-button.jp-mod-accept")
        page.click(".jp-SideBar [data-id='cygnet-runs-panel']")
        page.wait_for_selector(".cygnet-schedule:has-text('scan.ipynb · every 3 s')", timeout=SLOW)
        page.wait_for_selector(".cygnet-runs-group h3:has-text('(schedule ')", timeout=SLOW)
        (payload,) = hook.wait_for(1)[:1]
        assert payload["run"]["schedule"] and payload["run"]["state"] == "succeeded"
        raw = hook.delivered()[0]["body"]
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert hook.delivered()[0]["headers"]["X-Cygnet-Signature"] == expected
        shot(page, "schedules-panel")
        page.click(".cygnet-schedule .cygnet-schedule-pause")
        page.wait_for_selector(".cygnet-schedule:has-text('paused') .cygnet-schedule-resume", timeout=SLOW)
        page.click(".cygnet-schedule .cygnet-schedule-remove")
        page.wait_for_selector(".cygnet-schedules-list li:has-text('No schedules.')", timeout=SLOW)
    finally:
        hook.stop()

    # Compare: a scheduled run (energy 13.6) against the one-off run (energy 7), cell by cell,
    # then nbdime's side-by-side diff of the two results.
    scheduled = page.locator(".cygnet-runs-group", has=page.locator("h3", has_text="(schedule "))
    one_off = page.locator(".cygnet-runs-group", has=page.locator("h3", has_text=re.compile(r"^scan\.ipynb$")))
    scheduled.locator(".cygnet-run[data-state='succeeded'] .cygnet-run-pick").first.check()
    one_off.locator(".cygnet-run[data-state='succeeded'] .cygnet-run-pick").first.check()
    page.click(".cygnet-runs-compare:not([disabled])")
    page.wait_for_selector(".cygnet-compare-verdict:has-text('Results differ in')", timeout=SLOW)
    assert "energy is 13.6" in page.inner_text(".cygnet-compare-cells"), "the cell whose output differs"
    shot(page, "compare-runs")
    with page.expect_popup() as popup:
        page.click(".jp-Dialog-button:has-text('Side-by-side diff')")
    popup.value.wait_for_load_state()
    assert "/nbdime/difftool?base=" in popup.value.url
    popup.value.close()
