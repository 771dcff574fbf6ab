"""Wrong types, huge values, control characters and bad encodings thrown at every endpoint of
/cygnet/api/ and at every `cygnet` command: each answer is a 4xx with a JSON message naming the
problem (a clear message and exit code 2-4 on the command line), never a 500 or a traceback."""

import pytest
import requests

from tests.support.cli import cygnet

HUGE = "x" * 100_000
LONG_NAME = "n" * 300
BAD_TEXT = ["a\x00b", "a\x01b", "\ud800", HUGE, LONG_NAME + "/x", "../../etc/passwd", "/etc/passwd"]
WRONG_TYPES = [5, 1.5, True, [], ["a"], {}, {"a": 1}]

# (method, path, body) for every endpoint that takes a JSON body, with the fields it takes
BODIES = {
    ("POST", "/cygnet/api/sync"): {"src": "folder", "dest": "", "delete": False, "dry_run": False},
    ("POST", "/cygnet/api/shares"): {"path": "file.txt", "expires_in": "1d", "users": ["bob"]},
    ("POST", "/cygnet/api/spark/servers"): {"cluster": "managed", "bundles": [], "options": {}},
}
# (path, query parameter) for every endpoint that reads one
QUERIES = [
    ("/cygnet/api/open", "repo"),
    ("/cygnet/api/open", "url"),
    ("/cygnet/api/open", "target"),
    ("/cygnet/api/open", "share"),
    ("/cygnet/api/link", "from"),
    ("/cygnet/link", "repo"),
    ("/cygnet/api/shares", "path"),
    ("/cygnet/api/spark/bundles", "cluster"),
]
PLAIN = [
    ("GET", "/cygnet/api/views"),
    ("GET", "/cygnet/api/sync"),
    ("GET", "/cygnet/api/shares/with-me"),
    ("GET", "/cygnet/api/spark/clusters"),
    ("GET", "/cygnet/api/spark/servers"),
    ("GET", "/cygnet/api/sync/" + "0" * 32),
    ("POST", "/cygnet/api/sync/" + "0" * 32 + "/resume"),
    ("GET", "/cygnet/api/shares/" + "0" * 16),
    ("DELETE", "/cygnet/api/shares/" + "0" * 16),
    ("POST", "/cygnet/api/shares/" + "0" * 16 + "/refresh"),
    ("GET", "/cygnet/api/spark/servers/" + "0" * 16),
    ("DELETE", "/cygnet/api/spark/servers/" + "0" * 16),
]


def assert_clear_4xx(r, what):
    assert 400 <= r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json"), f"{what}: {r.headers['Content-Type']}"
    message = r.json().get("message")
    assert message and "Unhandled error" not in message and "Traceback" not in message, f"{what}: {r.text[:300]}"
    return message


def bad_bodies(good):
    yield "not an object", ["a"]
    yield "null", None
    yield "unknown field", {**good, "bogus": 1}
    for field in good:
        for value in WRONG_TYPES + BAD_TEXT:
            if type(value) is type(good[field]) and not isinstance(value, str):
                continue  # a right type (a list for a list field) is not wrong
            yield f"{field}={value!r:.40}", {**good, field: value}


@pytest.mark.parametrize("method, path", list(BODIES))
def test_every_body_field_answers_wrong_types_and_bad_text_with_a_4xx(server, method, path):
    (server.root / "folder").mkdir(exist_ok=True)
    (server.root / "file.txt").write_text("x")
    for what, body in bad_bodies(BODIES[method, path]):
        r = server.http.request(method, server.url + path, json=body, timeout=60)
        if r.status_code in (201, 202):
            continue  # some values are fine for some fields (a name of 300 characters as dest)
        message = assert_clear_4xx(r, f"{path} {what}")
        if what.startswith(("unknown", "not an")):
            assert "body" in message


@pytest.mark.parametrize("method, path", list(BODIES))
def test_bodies_that_are_not_json_or_not_utf8_are_400(server, method, path):
    for raw in (b"{", b"\xff\xfe{}", b'{"src": "\xed\xa0\x80"}', b"[" * 10000):
        r = server.http.request(
            method, server.url + path, data=raw, timeout=60, headers={"Content-Type": "application/json"}
        )
        assert_clear_4xx(r, f"{path} {raw[:20]!r}")


@pytest.mark.parametrize("path, name", QUERIES)
def test_every_query_parameter_answers_bad_text_with_a_4xx_or_a_failed_event(server, path, name):
    for value in ["a\x01b", LONG_NAME + "/x", "x" * 9000]:
        r = server.get(
            path, params={name: value, **({"repo": "https://example.org/r.git"} if name == "target" else {})}
        )
        if r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream"):
            assert "event: failed" in r.text, r.text[:300]
            continue
        if r.status_code == 200:
            continue  # accepted as a harmless value (a cluster name that matches nothing)
        assert_clear_4xx(r, f"{path}?{name}={value[:20]!r}")
    for raw in ("%ED%A0%80", "%FF"):  # a lone surrogate, not UTF-8 at all
        r = requests.get(f"{server.url}{path}?{name}={raw}", headers=server.http.headers, timeout=60)
        assert 400 <= r.status_code < 500 or "event: failed" in r.text, r.text[:300]


def test_a_query_of_100000_characters_is_414_not_a_dropped_connection(server):
    r = server.get("/cygnet/api/views", params={"x": "y" * 100_000})
    assert r.status_code == 414 and "too long" in r.json()["message"]


@pytest.mark.parametrize("method, path", PLAIN)
def test_unknown_ids_are_404_with_a_message(server, method, path):
    r = server.http.request(method, server.url + path, timeout=60, json={})
    if method == "GET" and not path.rstrip("0").endswith("/"):
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 404 and r.json()["message"], r.text


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "x" * 5000],
        ["sync", "\x01"],
        ["sync", ".", "webdav://user:pw@127.0.0.1:1/box"],
        ["share", "create", "a\x01b", "--workspace", "."],
        ["share", "create", LONG_NAME, "--workspace", "."],
        ["share", "create", "x", "--expires", "soon"],
        ["share", "revoke", "nope"],
        ["share", "refresh", "0" * 16],
        ["open", "https://ex\x01ample.org/r.git"],
        ["open", "http://127.0.0.1:1/r.git"],
        ["open", "--url", "http://10.0.0.1/n.ipynb"],
        ["link", "not a url", "--base-url", "https://x.example.org/"],
        ["views", "show", "../../etc"],
        ["views", "show", "\x01/\x02"],
        ["views", "build", "../escape"],
        ["storage", "stat", "root://"],
        ["storage", "ls", "ftp://example.org/x"],
        ["spark", "clusters", "--Cygnet.spark_clusters=/nonexistent.yaml"],
    ],
)
def test_every_command_answers_bad_input_with_a_message_and_an_exit_code(tmp_path, args):
    result = cygnet(*args, env={"CYGNET_DATA_DIR": str(tmp_path)}, timeout=120)
    assert result.returncode in (2, 3, 4), (args, result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr and "cygnet" in result.stderr, result.stderr[-500:]


def test_a_kernel_no_view_has_is_404_naming_it(server):
    r = server.http.post(server.url + "/api/kernels", json={"name": "lcg_0__nowhere"}, timeout=60)
    assert r.status_code == 404, r.text
    assert "lcg_0__nowhere" in assert_clear_4xx(r, "an unknown kernel")
