"""A dask-local cluster that answers only its own session.

- Its scheduler, workers and nannies talk TLS with mutual authentication, using credentials
  made for this cluster alone (as distributed's `Security.temporary()`, with an ECDSA key; kept in
  memory and handed to the worker processes it starts): a `distributed.Client` without them is refused before it can
  submit anything.
- Its dashboard (the scheduler's HTTP server: bokeh plots, /info, /json, Prometheus) answers
  only requests that carry the session's key (cygnet.core.session_key) in `X-Cygnet-Session`,
  which the session's Jupyter server adds on its /cygnet/dask-dashboard/ route; any other
  request gets 403. The check is put in place before the scheduler serves its first request.
- The workers' own HTTP servers serve no routes.

Kernel side: needs distributed, tornado and cryptography (which `cygnet views build --dask`
installs)."""

import datetime
import hmac

from tornado import httputil

from cygnet.core.errors import Unavailable

HEADER = "X-Cygnet-Session"


def temporary_security():
    """TLS credentials for one cluster, required on every connection: distributed's
    `Security.temporary()`, with an ECDSA P-256 key instead of its RSA-2048 one. Making an RSA
    key took 40 to 200 ms of each private cluster's start, and every TLS handshake between the
    client, the scheduler and the workers signs with it (a P-256 signature is far cheaper)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from distributed.security import Security
    except ImportError:
        raise Unavailable(
            "this view has no 'cryptography', which a private Dask cluster needs for its TLS credentials "
            "(build the view with `cygnet views build --dask`, or add cryptography to it)"
        ) from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dask-internal")])  # as distributed names its own
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("dask-internal")]), critical=False)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # a worker's clock a little behind
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    roles = {
        f"tls_{role}_{part}": pem
        for role in ("client", "scheduler", "worker")
        for part, pem in (("key", key_pem), ("cert", cert_pem))
    }
    return Security(require_encryption=True, tls_ca_file=cert_pem, **roles)


def private_local_cluster(key, **options):
    """A LocalCluster (the same `options`) whose scheduler's HTTP server requires `key`."""
    from distributed import LocalCluster
    from distributed.scheduler import Scheduler

    import dask

    class GatedScheduler(Scheduler):
        def start_http_server(self, *args, **kwargs):
            super().start_http_server(*args, **kwargs)
            # Before the event loop runs again, so no request is served ungated.
            self.http_server.request_callback = SessionGate(self.http_server.request_callback, key)

    class PrivateLocalCluster(LocalCluster):
        async def _start(self):
            self.scheduler_spec = {**self.scheduler_spec, "cls": GatedScheduler}
            await super()._start()

    # For this kernel's workers from now on, those a later scale or adapt starts included.
    dask.config.set({"distributed.worker.http.routes": []})
    return PrivateLocalCluster(**options)


class SessionGate(httputil.HTTPServerConnectionDelegate):
    """A tornado server delegate in front of an application: requests without the key are
    answered 403 and never reach it."""

    def __init__(self, inner, key):
        self.inner, self.key = inner, key.encode()

    def start_request(self, server_conn, request_conn):
        return _GatedRequest(self.inner.start_request(server_conn, request_conn), request_conn, self.key)

    def on_close(self, server_conn):
        self.inner.on_close(server_conn)


class _GatedRequest(httputil.HTTPMessageDelegate):
    """One request's message delegate: passes everything on once the headers carry the key."""

    BODY = b"this Dask dashboard answers only its own session (through its Jupyter server)\n"

    def __init__(self, inner, connection, key):
        self.inner, self.connection, self.key, self.refused = inner, connection, key, False

    def headers_received(self, start_line, headers):
        if hmac.compare_digest(headers.get(HEADER, "").encode(), self.key):
            return self.inner.headers_received(start_line, headers)
        self.refused = True
        answer = httputil.HTTPHeaders(
            {"Content-Type": "text/plain", "Content-Length": str(len(self.BODY)), "Connection": "close"}
        )
        self.connection.write_headers(httputil.ResponseStartLine("HTTP/1.1", 403, "Forbidden"), answer, self.BODY)
        self.connection.finish()
        return None

    def data_received(self, chunk):
        return None if self.refused else self.inner.data_received(chunk)

    def finish(self):
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self):
        if not self.refused:
            self.inner.on_connection_close()
