"""The multi-user service in a real browser: Debian's Chromium driven by Playwright through a
real `cygnet hub`. Ivy logs in, fills the spawn form, gets JupyterLab on her chosen view, and
finds in her *Shared* panel what Jack shared with her; "Open a copy" puts it in her workspace.
Screenshots of each step go to test-output/e2e/hub-*.png for a person to look at."""

import os
import re

import pytest

from tests.support.cli import PLATFORM
from tests.support.views import kernel_name
from tests.test_lab_e2e import CHROMIUM, FLAGS, SHOTS

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"
)


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"hub-{name}.png"))


def logged_in(browser, hub, user, next_path):
    """A page of a fresh browser context where `user` has just logged in to the hub, bound for `next_path`."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{hub.url}/hub/login?next={next_path}")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    return page


def test_login_form_lab_and_the_shared_panel(hub):
    from playwright.sync_api import TimeoutError as PageTimeout
    from playwright.sync_api import sync_playwright

    # Jack, through his own session's API, shares a notebook with Ivy.
    jack_web = hub.login("jack")
    hub.start_session(jack_web, "jack", {"view": f"LCG_marker/{PLATFORM}"})
    jack = hub.api(hub.token(jack_web, "jack"))
    content = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Jack's fit", "id": "a1"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    put = jack.put(
        f"{hub.url}/user/jack/api/contents/fit.ipynb", json={"type": "notebook", "content": content}, timeout=30
    )
    assert put.ok, put.text
    made = jack.post(f"{hub.url}/user/jack/cygnet/api/shares", json={"path": "fit.ipynb", "users": ["ivy"]})
    assert made.status_code == 201, made.text

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", "ivy")
            page.fill("#password_input", hub.password)
            shot(page, "login")
            page.click("#login_submit")

            page.wait_for_selector("#cygnet-view")
            page.select_option("#cygnet-view", f"LCG_second/{PLATFORM}")
            page.select_option("#cygnet-cores", "2")
            page.select_option("#cygnet-cluster", "local")
            shot(page, "form")
            page.click("form button[type=submit]")

            page.wait_for_url("**/user/ivy/lab**", timeout=120_000)
            page.wait_for_selector(".jp-DirListing", timeout=120_000)
            shot(page, "lab")
            page.click(".jp-SideBar [data-id='cygnet-shared-panel']")
            row = page.wait_for_selector(".cygnet-shared-with-me .cygnet-share-row:has-text('fit.ipynb')")
            assert "from jack" in row.inner_text()
            shot(page, "shared-panel")
            page.click(".cygnet-shared-with-me .cygnet-shared-open")
            try:
                page.wait_for_url("**/user/ivy/lab/tree/fit*.ipynb**", timeout=120_000)
            except PageTimeout:
                shot(page, "open-failed")
                raise AssertionError(f"the copy did not open: at {page.url}") from None
            page.wait_for_selector('.jp-RenderedMarkdown:has-text("Jack\'s fit")')
            shot(page, "opened-copy")
        finally:
            browser.close()
    listing = hub.api(hub.token(hub.login("ivy"), "ivy")).get(f"{hub.url}/user/ivy/api/contents/", timeout=30).json()
    assert "fit.ipynb" in [item["name"] for item in listing["content"]]


def test_a_colleague_works_in_a_shared_session_until_the_owner_revokes(hub):
    """Kim shares her running session with Lee; Lee, logged in to the hub in Chromium, opens
    Kim's JupyterLab: the status bar says whose session it is and whose identity its code runs
    with, Kim's own tools (her share links, her runs) are not shown to him, and her notebook
    opens. Both work on it at once, each seeing the other's edits flagged with the other's hub
    name. Kim revokes: Lee's browser is refused from then on."""
    from playwright.sync_api import sync_playwright

    kim_web = hub.login("kim")
    hub.login("lee")  # the hub knows a user once they have logged in
    hub.start_session(kim_web, "kim", {"view": f"LCG_marker/{PLATFORM}"})
    kim = hub.api(hub.token(kim_web, "kim"))
    content = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Kim's analysis", "id": "k1"},
            {
                "cell_type": "code",
                "metadata": {},
                "source": "fit = None",
                "id": "k2",
                "outputs": [],
                "execution_count": None,
            },
        ],
        # Its kernel, so JupyterLab opens it without asking for one (a dialog over the cells).
        "metadata": {"kernelspec": {"name": kernel_name("LCG_marker", PLATFORM), "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    assert kim.put(f"{hub.url}/user/kim/api/contents/kim.ipynb", json={"type": "notebook", "content": content}).ok
    shares = f"{hub.url}/user/kim/cygnet/api/session/shares"
    assert kim.post(shares, json={"users": ["lee"]}, timeout=60).status_code == 201

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = logged_in(browser, hub, "lee", "/user/kim/lab/tree/kim.ipynb")
            # JupyterHub asks him once to let Kim's server know who he is.
            page.click("button:has-text('Authorize')", timeout=120_000)
            page.wait_for_url("**/user/kim/lab/**", timeout=120_000)
            status = page.wait_for_selector('.cygnet-session-status:has-text("kim\'s session")')
            assert status.inner_text() == "kim's session · code runs as kim"
            page.wait_for_selector('.jp-RenderedMarkdown:has-text("Kim\'s analysis")')
            assert page.query_selector(".jp-SideBar [data-id='cygnet-shared-panel']") is None
            assert page.query_selector(".jp-SideBar [data-id='cygnet-runs-panel']") is None
            shot(page, "shared-session")

            # Kim, in her own browser, on the same notebook: they co-edit, each named.
            kim_page = logged_in(browser, hub, "kim", "/user/kim/lab/tree/kim.ipynb")
            kim_page.wait_for_url("**/user/kim/lab/**", timeout=120_000)
            editors = {}
            for who, their_page in (("lee", page), ("kim", kim_page)):
                editors[who] = their_page.locator(
                    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content"
                ).first
                editors[who].wait_for(timeout=120_000)
            editors["lee"].click()
            page.keyboard.press("End")
            page.keyboard.type("  # lee was here")
            kim_page.locator(".jp-CodeCell .cm-content", has_text="lee was here").first.wait_for()
            kim_page.locator(".jp-remote-userFlag-name", has_text="lee").first.wait_for(state="attached")
            editors["kim"].click()
            kim_page.keyboard.press("End")
            kim_page.keyboard.type("  # and kim")
            page.locator(".jp-CodeCell .cm-content", has_text="and kim").first.wait_for()
            page.locator(".jp-remote-userFlag-name", has_text="kim").first.wait_for(state="attached")
            shot(page, "shared-session-co-editing")

            assert kim.delete(f"{shares}/lee", timeout=60).status_code == 200
            answer = page.evaluate("fetch('/user/kim/api/contents/kim.ipynb').then(r => r.status)")
            assert answer == 403, "the colleague's browser is refused at once after the revoke"
            shot(page, "shared-session-revoked")
        finally:
            browser.close()


def test_a_newcomer_on_a_fresh_machine_goes_from_login_to_a_running_notebook(tmp_path):
    """`cygnet hub` with no configuration and no views anywhere: it builds the default view on
    its first start (saying so, once), and a newcomer logs in, starts the form's defaults and
    runs a cell."""
    from playwright.sync_api import sync_playwright

    from tests.support.hub import Hub
    from tests.test_lab_e2e import run_cell

    hub = Hub(tmp_path / "data", env={"CYGNET_VIEWS_PATH": "", "HOME": str(tmp_path / "home")})
    hub.start(timeout=600)
    try:
        assert hub.log().count("building 'default'") == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                page.set_default_timeout(120_000)
                page.goto(f"{hub.url}/hub/login")
                page.fill("#username_input", "newcomer")
                page.fill("#password_input", hub.password)
                page.click("#login_submit")
                view = page.wait_for_selector("#cygnet-view option[selected]", state="attached")
                assert re.match(r"default / \S+ \N{EM DASH} Python 3\.\d+$", view.inner_text())
                assert "nothing to install" in page.inner_text("#cygnet-view-help")
                shot(page, "newcomer-form")
                page.click("form button[type=submit]")
                page.wait_for_url("**/user/newcomer/lab**", timeout=180_000)
                page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
                cell = page.locator(".jp-Notebook .jp-CodeCell").first
                cell.locator(".cm-content").click()
                page.keyboard.type("print(6 * 7)")
                run_cell(page, cell)
                cell.locator(".jp-OutputArea-output", has_text="42").wait_for(timeout=120_000)
                shot(page, "newcomer-notebook")
            finally:
                browser.close()

    finally:
        hub.stop()
