"""A real mail server (aiosmtpd) and a real webhook receiver (http.server), both on loopback, that
keep what they were sent, for the run notification tests."""

import email
import http.server
import json
import threading
import time

from aiosmtpd.controller import Controller

from tests.support.jupyter import free_port


class Mailbox:
    """An SMTP server on 127.0.0.1 keeping each message it accepts."""

    def __init__(self):
        self.messages = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def wait_for(self, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} emails arrived in {timeout} s")
            time.sleep(0.1)
        return self.messages


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping each POST (headers and JSON body); it answers with the
    statuses in `answers` in turn (then 200), so a test can make it fail first."""

    def __init__(self, answers=()):
        self.received = []
        self.answers = list(answers)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.received.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?key=abc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def delivered(self):
        return [r for r in self.received if 200 <= r["status"] < 300]

    def wait_for(self, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.delivered())} of {count} webhooks arrived in {timeout} s")
            time.sleep(0.1)
        return [json.loads(r["body"]) for r in self.delivered()]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
