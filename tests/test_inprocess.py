"""Handler tests in process (pytest-jupyter's ServerApp and tornado's test client): a server
with the Cygnet extension in the test's own process, for what needs no separate server (input
checks, error mapping, routes). Fixtures are imported here, so pytest-jupyter's autouse
fixtures apply to this module only."""

import json
import os

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F403 - pytest-jupyter's fixtures, for this module
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError


@pytest.fixture(autouse=True)
def the_test_process_stays_as_it_was():
    """The extension makes its process the user's session (umask 077, a private $TMPDIR that goes
    when the session ends, the session's variables). Here that process is pytest's own: what the
    tests after these start (Chromium, kadmin's keytabs read by another account) needs it back."""
    env, mask = dict(os.environ), os.umask(0o022)
    os.umask(mask)
    yield
    os.umask(mask)
    os.environ.clear()
    os.environ.update(env)


@pytest.fixture
def jp_server_config(tmp_path):
    return {
        "ServerApp": {"jpserver_extensions": {"cygnet.server": True}},
        "Cygnet": {"data_dir": str(tmp_path / "cygnet-data"), "build_default_view": False},
    }


def call(loop, fetch, *path, method="GET", body=None, params=None):
    """(status, JSON body) of one request to the in-process server."""
    kwargs = {"method": method, "raise_error": False, "params": params}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
    try:
        response = loop.run_until_complete(fetch(*path, **kwargs))
    except HTTPClientError as e:  # some tornado versions raise despite raise_error=False
        response = e.response
    return response.code, json.loads(response.body or b"null")


@pytest.mark.parametrize(
    "body, words",
    [
        ({"src": "."}, None),
        ({"src": ".", "delete": "no"}, "delete must be true or false"),
        ({"src": 5}, "src must be a string"),
        ({"src": ".", "bogus": 1}, "unknown field(s)"),
        ("[", "not valid JSON"),
        ({"src": "../x"}, "must stay inside the workspace"),
    ],
)
def test_sync_bodies_are_checked_in_process(jp_fetch, jp_asyncio_loop, jp_root_dir, body, words):
    status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "sync", method="POST", body=body)
    if words is None:
        assert status == 202 and answer["state"] in ("queued", "running", "done"), answer
    else:
        assert status == 400 and words in answer["message"], answer


def test_unknown_ids_and_the_views_listing_in_process(jp_fetch, jp_asyncio_loop):
    assert call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "sync", "0" * 32)[0] == 404
    assert call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "shares", "0" * 16)[0] == 404
    status, views = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "views")
    assert status == 200 and isinstance(views, list)
    status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "shares", method="POST", body={"users": 1})
    assert status == 400 and "path" in answer["message"]


def test_share_fields_and_malformed_share_links_get_json_errors_in_process(jp_fetch, jp_asyncio_loop):
    """A share's path of the wrong type is named as sync's fields are; a /cygnet/s/ path that
    cannot be a share link is a JSON error (never Jupyter's HTML 404), and never echoes the token."""
    status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "shares", method="POST", body={"path": 1})
    assert status == 400 and answer["message"] == "path must be a string, not a number", answer
    status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "shares", method="POST", body={"path": ["a"]})
    assert status == 400 and answer["message"] == "path must be a string, not a list", answer
    for suffix, code, words in [
        ("A" * 5000, 414, "at most 64 characters, not 5000"),
        ("too-short", 404, "not a share link"),
        ("not!a!token!at!all!", 404, "not a share link"),
        ("A" * 32 + "/elsewhere", 404, "no such page of a share"),
    ]:
        status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "s", suffix)
        assert status == code and words in answer["message"], (suffix[:40], status, answer)
        assert "AAAA" not in answer["message"] and "too-short" not in answer["message"]
    response = jp_asyncio_loop.run_until_complete(jp_fetch("cygnet", "s", "x", raise_error=False))
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store" and "sandbox" in response.headers["Content-Security-Policy"]


def test_kerberos_rest_authenticates_reports_and_destroys(jp_fetch, jp_asyncio_loop, tmp_path_factory, monkeypatch):  # noqa: E501
    """GET/POST/DELETE /cygnet/api/kerberos against a real KDC (the server runs in this process,
    so the KDC's configuration reaches it through the environment)."""
    from tests.support.kdc import KDC, REALM

    if not KDC.available():
        pytest.skip("needs Debian's krb5-kdc and krb5-user")
    kdc = KDC(tmp_path_factory.mktemp("kdc-rest")).start()
    try:
        kdc.add_user("carol", "carol-password")
        for key, value in kdc.env.items():
            monkeypatch.setenv(key, value)
        status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos")
        assert status == 200 and answer["principal"] is None and answer["ccache"].endswith("/kerberos/krb5cc")
        body = {"principal": "carol", "password": "wrong"}
        status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos", method="POST", body=body)
        assert status == 400 and answer["message"] == "wrong password for carol"
        no_password = {"principal": "carol"}
        status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos", method="POST", body=no_password)
        assert status == 400 and "password" in answer["message"]
        body["password"] = "carol-password"
        status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos", method="POST", body=body)
        assert status == 200 and answer["principal"] == f"carol@{REALM}" and answer["expires"] > 0
        assert call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos", method="DELETE")[0] == 204
        assert call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "kerberos")[1]["principal"] is None
    finally:
        kdc.stop()


def _registered_api_routes(serverapp):
    """(path template, method) of every route the extension serves under /cygnet/api/."""
    import re

    from cygnet.server.handlers import CygnetHandler

    (app,) = serverapp.extension_manager.extension_apps["cygnet.server"]
    found = set()
    for pattern, handler, *_ in app.handlers:
        if not pattern.startswith("/cygnet/api/") or pattern.endswith(".*"):
            continue  # the catch-all answers unknown paths with a JSON 404
        template = re.sub(r"\(\[0-9a-f\]\{\d+\}\)", "{id}", pattern.removeprefix("/cygnet/api"))
        template = template.replace("(.*)", "{path}").replace("([^/]{1,255})", "{user}")
        alternatives = re.search(r"\(([a-z|]+)\)", template)
        templates = (
            [template.replace(alternatives.group(0), a) for a in alternatives.group(1).split("|")]
            if alternatives
            else [template]
        )
        methods = {
            m
            for m in ("get", "post", "put", "patch", "delete")
            if any(m in vars(k) for k in handler.__mro__ if issubclass(k, CygnetHandler) and k is not CygnetHandler)
        }
        found |= {(t, m) for t in templates for m in methods}
    return found


def test_the_openapi_document_describes_every_registered_route(jp_fetch, jp_asyncio_loop, jp_serverapp):
    status, doc = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert documented == _registered_api_routes(jp_serverapp)
    refs = {v for v in json.dumps(doc).split('"') if v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"]), "every $ref resolves"
    # What the comparison found once: the resume route inherited the job listing's GET (a 500).
    status, _ = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "sync", "0" * 32, "resume")
    assert status == 405

    def views(params):
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("cygnet", "api", "views", params=params, raise_error=False)
        )
        return response.code, json.loads(response.body or b"null")

    assert views({"1795466312345": ""})[0] == 200, "JupyterLab's cache-busting timestamp is not an unknown parameter"
    status, body = views({"color": "red"})
    assert status == 400 and "color" in body["message"]
    status, body = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "runs", "not-an-id")
    assert status == 404 and "openapi.json" in body["message"], "unknown API paths answer JSON"


def test_the_compute_layer_lists_every_engine_and_spark_keeps_its_old_route(jp_fetch, jp_asyncio_loop):
    status, clusters = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "compute", "clusters")
    assert status == 200
    assert [(c["name"], c["engine"], c["default"]) for c in clusters] == [
        ("local", "spark", True),
        ("dask-local", "dask", False),
    ]
    assert call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "spark", "clusters") == (200, clusters)
    # Spark's bundles are asked for a Spark cluster: a Dask one is refused with its engine named.
    status, answer = call(jp_asyncio_loop, jp_fetch, "cygnet", "api", "spark", "bundles", params={"cluster": "nosuch"})
    assert status == 404 and "dask-local" not in answer["message"] and "local" in answer["message"]
    status, answer = call(
        jp_asyncio_loop, jp_fetch, "cygnet", "api", "spark", "bundles", params={"cluster": "dask-local"}
    )
    assert status == 400 and "is a Dask cluster" in answer["message"]


def test_an_over_long_open_link_is_refused_by_the_page_as_by_its_api(jp_fetch, jp_asyncio_loop):
    params = {"share": "T" * 20, "pad": "x" * 9000}
    for path in (("cygnet", "open"), ("cygnet", "api", "open")):
        try:
            response = jp_asyncio_loop.run_until_complete(jp_fetch(*path, params=params, raise_error=False))
        except HTTPClientError as e:
            response = e.response
        assert response.code == 414, path


def test_the_server_pools_kernels_and_sends_kernel_frames_at_once(jp_serverapp):
    """Cygnet chooses the kernel manager (the pool) and the kernel websocket connection (no
    Nagle delay) when the site has not chosen its own; their effect is measured by
    bench/kernel_pool.py, their behaviour tested in test_kernel_pool.py."""
    from cygnet.kernels.pool import PooledKernelManager
    from cygnet.server.kernel_websocket import PromptKernelWebsocketConnection

    assert isinstance(jp_serverapp.kernel_manager, PooledKernelManager)
    assert jp_serverapp.kernel_websocket_connection_class is PromptKernelWebsocketConnection
