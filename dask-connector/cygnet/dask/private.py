"""A dask-local cluster that answers only its own session.

- Its scheduler, workers and nannies talk TLS with mutual authentication, using credentials
  distributed makes for this cluster alone (`Security.temporary()`, kept in memory and handed to
  the worker processes it starts): a `distributed.Client` without them is refused before it can
  submit anything.
- Its dashboard (the scheduler's HTTP server: bokeh plots, /info, /json, Prometheus) answers
  only requests that carry the session's key (cygnet.core.session_key) in `X-Cygnet-Session`,
  which the session's Jupyter server adds on its /cygnet/dask-dashboard/ route; any other
  request gets 403. The check is put in place before the scheduler serves its first request.
- The workers' own HTTP servers serve no routes.

Kernel side: needs distributed, tornado and cryptography (which `cygnet views build --dask`
installs)."""

import hmac

from tornado import httputil

from cygnet.core.errors import Unavailable

HEADER = "X-Cygnet-Session"


def temporary_security():
    """TLS credentials for one cluster, required on every connection."""
    try:
        from distributed.security import Security

        return Security.temporary()
    except ImportError:
        raise Unavailable(
            "this view has no 'cryptography', which a private Dask cluster needs for its TLS credentials "
            "(build the view with `cygnet views build --dask`, or add cryptography to it)"
        ) from None


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
