"""Servers that behave badly on purpose, on 127.0.0.1, for tests and bench/hostile.py."""

import socket
import threading
import time


class DripServer:
    """Answers every request one byte per `interval` seconds, forever (until stopped): in the
    body (`where="body"`, after honest headers) or in the headers themselves."""

    def __init__(self, where="body", interval=1.0):
        self.where, self.interval = where, interval
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            conn.recv(65536)
            if self.where == "body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
                payload = b'{"cells": ['
            else:
                payload = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000
            i = 0
            while not self.stopped.is_set():
                conn.sendall(payload[i % len(payload) : i % len(payload) + 1])
                i += 1
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped.set()
        self.sock.close()


class RedirectServer:
    """Answers every request with a 302 to `location`."""

    def __init__(self, location):
        import http.server

        target = location

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
