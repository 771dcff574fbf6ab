"""An HTTP service on loopback that requires Kerberos (SPNEGO), standing in for a site's token
service and a Negotiate WebDAV box: GET /token answers a delegation token naming the caller,
and every other path is a WebDAV folder (wsgidav). After one handshake it sets a signed cookie,
as Hadoop's services do (`hadoop.auth`), so a client that keeps its session negotiates once.

Run as a process of its own (KRB5_KTNAME names its keytab):
    python -m tests.support.negotiate_server PORT ROOT"""

import base64
import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path

COOKIE = "cygnet-negotiate"
SECRET = secrets.token_bytes(32)


def app(root):
    import gssapi
    from wsgidav.wsgidav_app import WsgiDAVApp

    dav = WsgiDAVApp(
        {
            "provider_mapping": {"/": str(root)},
            "simple_dc": {"user_mapping": {"*": True}},  # anyone this middleware let in
            "http_authenticator": {"domain_controller": None},
            "verbose": 0,
            "logging": {"enable": False},
        }
    )
    acceptor = gssapi.Credentials(usage="accept")

    def refuse(start_response, why):
        start_response("401 Unauthorized", [("WWW-Authenticate", "Negotiate"), ("Content-Type", "text/plain")])
        return [why.encode()]

    def serve(environ, start_response):
        principal, headers = _from_cookie(environ), []
        if principal is None:
            offered = environ.get("HTTP_AUTHORIZATION", "")
            if not offered.startswith("Negotiate "):
                return refuse(start_response, "Kerberos authentication required")
            context = gssapi.SecurityContext(creds=acceptor, usage="accept")
            try:
                answer = context.step(base64.b64decode(offered.split(" ", 1)[1]))
            except gssapi.exceptions.GSSError:
                return refuse(start_response, "the Kerberos ticket was refused")
            if not context.complete:
                return refuse(start_response, "the handshake did not complete")
            principal = str(context.initiator_name)
            headers.append(("Set-Cookie", f"{COOKIE}={_sign(principal)}; HttpOnly; Path=/"))
            if answer:
                headers.append(("WWW-Authenticate", "Negotiate " + base64.b64encode(answer).decode()))
        if environ["PATH_INFO"] == "/token":
            start_response("200 OK", [("Content-Type", "application/octet-stream"), *headers])
            return [hadoop_credentials({"cygnet.test.owner": principal.encode()})]

        def with_headers(status, response_headers, exc_info=None):
            return start_response(status, [*response_headers, *headers], exc_info)

        return dav(environ, with_headers)

    return serve


def hadoop_credentials(secrets):
    """A Hadoop credentials file (what HADOOP_TOKEN_FILE_LOCATION names), in its Writable form:
    "HDTS", version 0, no tokens, then the secret keys (alias, bytes); lengths under 128 here."""
    out = b"HDTS\x00\x00" + bytes([len(secrets)])
    for alias, value in secrets.items():
        out += bytes([len(alias)]) + alias.encode() + bytes([len(value)]) + value
    return out


def _sign(principal):
    mac = hmac.new(SECRET, principal.encode(), hashlib.sha256).hexdigest()
    return base64.urlsafe_b64encode(principal.encode()).decode() + "." + mac


def _from_cookie(environ):
    jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    if COOKIE not in jar:
        return None
    encoded, _, mac = jar[COOKIE].value.partition(".")
    try:
        principal = base64.urlsafe_b64decode(encoded).decode()
    except ValueError:
        return None
    return principal if hmac.compare_digest(_sign(principal).partition(".")[2], mac) else None


def start(port, root, env):
    """The service in a process of its own; returns the process (terminate() it)."""
    from .gitserve import _wait_for_port

    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.negotiate_server", str(port), str(root)],
        env={**os.environ, **env},
        cwd=str(Path(__file__).resolve().parents[2]),
        stdout=subprocess.DEVNULL,
    )
    _wait_for_port(port)
    return proc


if __name__ == "__main__":
    from cheroot.wsgi import Server

    server = Server(("127.0.0.1", int(sys.argv[1])), app(sys.argv[2]), numthreads=8)
    server.safe_start()
