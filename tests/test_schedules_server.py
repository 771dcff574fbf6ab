"""Schedules and notifications through a real Cygnet server: real runs of real notebooks on a
view's kernel (the local backend), fired by the server's runner, told to a real SMTP server
(aiosmtpd) and a real webhook receiver on loopback; `cygnet schedule` beside the server; the
server killed (-9) between firings and started again on the same records."""

import hashlib
import hmac
import json
import os
import signal
import time

import nbformat
import pytest
import requests

from tests.support.cli import PLATFORM, cygnet
from tests.support.jupyter import JupyterServer, cygnet_metrics
from tests.support.mailbox import Mailbox, WebhookReceiver
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def write_notebook(path, *cells, parameters=None):
    nb = nbformat.v4.new_notebook()
    if parameters:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, lcg_root, mailbox):
    root, _ = lcg_root
    workspace = tmp_path_factory.mktemp("schedules-workspace")
    write_notebook(workspace / "fit.ipynb", "print('result', year + 1)", parameters="year = 2020")
    write_notebook(workspace / "broken.ipynb", "x = 1", "raise ValueError('the fit did not converge')")
    env = {
        "CYGNET_DATA_DIR": str(tmp_path_factory.mktemp("schedules-data")),
        "CYGNET_VIEWS_PATH": str(root),
        "CYGNET_WORKSPACE": str(workspace),
    }
    args = [
        f"--Cygnet.default_view=LCG_marker/{PLATFORM}",
        "--Cygnet.build_default_view=False",
        "--Cygnet.runs_check_every=0.5",
        "--Cygnet.runs_min_interval=2",
        "--Cygnet.runs_max_schedules=4",
        "--Cygnet.runs_smtp_host=127.0.0.1",
        f"--Cygnet.runs_smtp_port={mailbox.port}",
        "--Cygnet.runs_smtp_sender=cygnet@example.org",
        "--Cygnet.open_internal_hosts=127.0.0.1",
    ]
    return {"workspace": workspace, "env": env, "args": args}


@pytest.fixture(scope="module")
def server(site):
    with JupyterServer(env=site["env"], root=site["workspace"], args=site["args"]) as srv:
        yield srv


@pytest.mark.parametrize(
    "body,message",
    [
        ({"notebook": "fit.ipynb", "cron": "99 * * * *"}, "cron: '99 * * * *' is not a cron expression"),
        ({"notebook": "fit.ipynb", "every": "1s"}, "every: this schedule would fire every 1 s"),
        ({"notebook": "nope.ipynb", "every": "1h"}, "notebook: there is no notebook nope.ipynb"),
        ({"notebook": "fit.ipynb", "every": "1h", "parameters": {"nope": 1}}, "has no parameter nope"),
        ({"notebook": "fit.ipynb", "every": "1h", "notify": {"email": "x"}}, "notify.email must be one email"),
        ({"notebook": "fit.ipynb", "every": "1h", "timezone": 5}, "timezone must be a string"),
        ({"notebook": "../fit.ipynb", "every": "1h"}, "inside"),
        ({"notebook": "fit.ipynb", "every": "1h", "when": "now"}, "when"),
    ],
)
def test_a_bad_schedule_is_a_400_naming_the_field(server, body, message):
    r = server.post("/cygnet/api/schedules", json=body)
    assert r.status_code == 400 and message in r.json()["message"], r.text


def test_a_failing_scheduled_run_is_told_by_email_and_webhook_then_paused_and_removed(server, mailbox):
    hook = WebhookReceiver()
    try:
        before = len(mailbox.messages)
        body = {
            "notebook": "broken.ipynb",
            "every": "2s",
            "notify": {"on": "failed", "email": "alice@example.org", "webhook": hook.url},
        }
        r = server.post("/cygnet/api/schedules", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        secret = created.pop("webhook_secret")
        assert created["notify"] == {
            "on": "failed",
            "email": "alice@example.org",
            "webhook": hook.url,
            "webhook_signed": True,
        }
        schedule_id = created["id"]

        mail = wait_for(lambda: mailbox.messages[before:], "an email about the failed run")[0]
        assert mail["Subject"] == "Cygnet: run of broken.ipynb failed"
        assert "ValueError: the fit did not converge" in mail.get_payload()
        (payload,) = hook.wait_for(1)[:1]
        run = payload["run"]
        assert (run["state"], run["schedule"], run["notebook"]) == ("failed", schedule_id, "broken.ipynb")
        assert "the fit did not converge" in run["error"] and run["link"].startswith(server.url)
        raw = hook.delivered()[0]
        assert (
            raw["headers"]["X-Cygnet-Signature"]
            == "sha256=" + hmac.new(secret.encode(), raw["body"], hashlib.sha256).hexdigest()
        )

        shown = server.get(f"/cygnet/api/schedules/{schedule_id}").json()
        assert secret not in json.dumps(shown) and shown["fired"] >= 1
        assert any(f["run"] == run["id"] and f["state"] == "submitted" for f in shown["firings"])
        # A delivery is recorded as sent just after it arrives: wait for the record, not a delivery.
        sent = {("email", "sent"), ("webhook", "sent")}
        wait_for(
            lambda: (
                {
                    (n["channel"], n["state"])
                    for n in server.get(f"/cygnet/api/runs/{run['id']}").json()["notifications"]
                }
                == sent
            ),
            "both notifications recorded as sent",
        )
        detail = server.get(f"/cygnet/api/runs/{run['id']}").json()
        assert secret not in json.dumps(detail)

        paused = server.http.patch(
            f"{server.url}/cygnet/api/schedules/{schedule_id}", json={"paused": True}, timeout=30
        )
        assert paused.status_code == 200 and paused.json()["paused"] is True
        fired = wait_for(lambda: _settled(server, schedule_id), "the schedule's last run to end")
        assert server.get(f"/cygnet/api/schedules/{schedule_id}").json()["fired"] == fired  # paused: no more
        resumed = server.http.patch(
            f"{server.url}/cygnet/api/schedules/{schedule_id}", json={"paused": False}, timeout=30
        )
        assert resumed.json()["paused"] is False and resumed.json()["next_slot"] > time.time() - 1
        assert server.delete(f"/cygnet/api/schedules/{schedule_id}").status_code == 204
        assert server.get(f"/cygnet/api/schedules/{schedule_id}").status_code == 404
        # Its runs stay, with their results.
        assert run["id"] in {r["id"] for r in server.get("/cygnet/api/runs").json() if r["schedule"] == schedule_id}
    finally:
        hook.stop()


def _settled(server, schedule_id):
    """The schedule's fired count once its last run has ended (pausing waits for nothing)."""
    shown = server.get(f"/cygnet/api/schedules/{schedule_id}").json()
    if not shown["last_run"]:
        return None
    state = server.get(f"/cygnet/api/runs/{shown['last_run']}").json()["state"]
    return shown["fired"] if state in ("succeeded", "failed", "cancelled") else None


def test_a_one_off_run_tells_a_webhook_when_it_ends(server):
    hook = WebhookReceiver()
    try:
        body = {"notebook": "fit.ipynb", "parameters": {"year": 2041}, "notify": {"on": "ended", "webhook": hook.url}}
        r = server.post("/cygnet/api/runs", json=body)
        assert r.status_code == 201, r.text
        secret = r.json()["webhook_secret"]
        (payload,) = hook.wait_for(1)
        assert payload["run"]["state"] == "succeeded" and payload["run"]["parameters"] == {"year": 2041}
        raw = hook.delivered()[0]
        assert (
            raw["headers"]["X-Cygnet-Signature"]
            == "sha256=" + hmac.new(secret.encode(), raw["body"], hashlib.sha256).hexdigest()
        )
        r = server.post("/cygnet/api/runs", json={"notebook": "fit.ipynb", "notify": {"webhook": "http://10.1.2.3/x"}})
        assert r.status_code == 400 and "notify.webhook: links may not reach 10.1.2.3" in r.json()["message"]
    finally:
        hook.stop()


def test_cli_schedules_fire_in_the_server_and_survive_a_kill_9_without_firing_a_slot_twice(site, tmp_path):
    env = site["env"]
    config = [f"--Cygnet.default_view=LCG_marker/{PLATFORM}", "--Cygnet.runs_min_interval=2"]
    bad = cygnet("schedule", "add", "fit.ipynb", "--every", "1s", *config, env=env)
    assert bad.returncode == 2 and "every: this schedule would fire every 1 s" in bad.stderr, bad.stderr
    added = cygnet(
        "schedule",
        "add",
        str(site["workspace"] / "fit.ipynb"),
        "--every",
        "2s",
        "-p",
        "year=2030",
        "--json",
        *config,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    schedule_id = json.loads(added.stdout)["id"]
    listed = cygnet("schedule", "list", "--json", *config, env=env)
    assert schedule_id in {s["id"] for s in json.loads(listed.stdout)}

    def fired():
        shown = json.loads(cygnet("schedule", "show", schedule_id, "--json", *config, env=env).stdout)
        return shown["fired"]

    first = JupyterServer(env=env, root=site["workspace"], args=site["args"], log_path=tmp_path / "first.log").start()
    try:
        wait_for(lambda: fired() >= 1, "the first firing")
    finally:
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
    count = fired()
    with JupyterServer(env=env, root=site["workspace"], args=site["args"], log_path=tmp_path / "second.log"):
        wait_for(lambda: fired() >= count + 1, "a firing after the restart")
        shown = json.loads(cygnet("schedule", "show", schedule_id, "--json", *config, env=env).stdout)
    slots = [f["slot"] for f in shown["firings"]]
    runs = [f["run"] for f in shown["firings"] if f["run"]]
    assert len(slots) == len(set(slots)) and len(runs) == len(set(runs))
    assert cygnet("schedule", "pause", schedule_id, *config, env=env).returncode == 0
    removed = cygnet("schedule", "rm", schedule_id, *config, env=env)
    assert removed.returncode == 0 and "its runs and their results stay" in removed.stderr
    gone = cygnet("schedule", "show", schedule_id, *config, env=env)
    assert gone.returncode != 0 and f"no schedule {schedule_id}" in gone.stderr


def test_a_new_view_check_runs_on_the_new_release_beside_the_old_and_tells_what_changed(tmp_path, kernel_site, mailbox):
    """A schedule that checks new views: while no view is new its slots are skipped; a release
    added to the views root (as CVMFS publishes one) runs the notebook beside the old view, and
    the owner is told the comparison: the cell printing the view's marker differs."""
    from tests.support.views import lcg_view

    views, workspace = tmp_path / "views", tmp_path / "workspace"
    workspace.mkdir()
    lcg_view(views, "LCG_106", PLATFORM, kernel_site=kernel_site)
    write_notebook(
        workspace / "energy.ipynb", "print('sum', sum(range(10)))", "import os\nprint(os.environ['CYGNET_TEST_MARKER'])"
    )
    env = {
        "CYGNET_DATA_DIR": str(tmp_path / "data"),
        "CYGNET_VIEWS_PATH": str(views),
        "CYGNET_WORKSPACE": str(workspace),
    }
    args = [
        f"--Cygnet.default_view=LCG_106/{PLATFORM}",
        "--Cygnet.build_default_view=False",
        "--Cygnet.runs_check_every=0.5",
        "--Cygnet.runs_min_interval=2",
        "--Cygnet.open_internal_hosts=127.0.0.1",
        "--Cygnet.runs_smtp_host=127.0.0.1",
        f"--Cygnet.runs_smtp_port={mailbox.port}",
    ]
    hook = WebhookReceiver()
    before = len(mailbox.messages)
    try:
        with JupyterServer(env=env, root=workspace, args=args) as server:
            body = {
                "notebook": "energy.ipynb",
                "every": "2s",
                "check_new_views": True,
                "notify": {"on": "failed", "webhook": hook.url, "email": "alice@example.org"},
            }
            r = server.post("/cygnet/api/schedules", json=body)
            assert r.status_code == 201, r.text
            created = r.json()
            assert created["view"] == f"LCG_106/{PLATFORM}" and created["views_known"] == [f"LCG_106/{PLATFORM}"]
            path = f"/cygnet/api/schedules/{created['id']}"
            shown = wait_for(lambda: (s := server.get(path).json())["skipped"] >= 1 and s, "a slot with no new view")
            assert shown["firings"][0]["note"] == "no new view since the last check" and shown["fired"] == 0

            lcg_view(views, "LCG_107", PLATFORM, kernel_site=kernel_site)  # a new release is published
            (payload,) = hook.wait_for(1)[:1]
            comparison = payload["comparison"]
            assert comparison["views"] == [f"LCG_106/{PLATFORM}", f"LCG_107/{PLATFORM}"], comparison
            assert comparison["verdict"] == "differs" and comparison["counts"] == {"same": 1, "differs": 1}
            assert "marker-LCG_106" in comparison["cells"][0]["detail"], comparison["cells"]
            assert payload["run"]["view"] == f"LCG_107/{PLATFORM}" and payload["run"]["state"] == "succeeded"
            mail = wait_for(lambda: mailbox.messages[before:], "the email of the check")[0]
            subject = " ".join(mail["Subject"].split())  # a long header comes folded
            assert subject == f"Cygnet: energy.ipynb on LCG_107/{PLATFORM} against LCG_106/{PLATFORM}: differs"
            assert "cell 1 [differs]" in mail.get_payload()
            shown = server.get(path).json()
            assert f"LCG_107/{PLATFORM}" in shown["views_known"] and shown["fired"] == 1
            pair = [run for run in server.get("/cygnet/api/runs").json() if run["schedule"] == created["id"]]
            assert sorted(run["view"] for run in pair) == [f"LCG_106/{PLATFORM}", f"LCG_107/{PLATFORM}"]
            assert server.http.delete(f"{server.url}{path}", timeout=30).status_code == 204
    finally:
        hook.stop()


def test_the_sessions_metrics_count_runs_schedules_and_notifications_behind_its_token(server):
    """Prometheus metrics at jupyter_server's /metrics: Cygnet's counts beside its own, for a
    token holder only, with states and backends as labels and no file names or secrets."""
    body = {"notebook": "fit.ipynb", "parameters": {"year": 2001}, "notify": {"on": "ended", "email": "a@example.org"}}
    r = server.post("/cygnet/api/runs", json=body)
    assert r.status_code == 201, r.text
    path = f"/cygnet/api/runs/{r.json()['id']}"
    wait_for(lambda: [n["state"] for n in server.get(path).json()["notifications"]] == ["sent"], "the run told")
    text = server.get("/metrics").text
    lines = cygnet_metrics(text)
    assert lines['cygnet_runs{backend="local",state="succeeded"}'] >= 1, text
    assert 'cygnet_notifications{channel="email",state="sent"}' in lines, text
    assert any(name.startswith("cygnet_schedule_firings_total") for name in lines), text
    assert "cygnet_sync_bytes_total" in lines and "cygnet_share_page_views_total" in lines
    assert "kernel_currently_running_total" in text, "jupyter_server's own metrics are there too"
    assert ".ipynb" not in text and "example.org" not in text, "no file names or addresses in labels"
    anonymous = requests.get(f"{server.url}/metrics", timeout=30)
    assert anonymous.status_code == 403
