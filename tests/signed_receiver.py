"""A real HTTP subscriber on 127.0.0.1 for the webhook, notice and end-to-end tests: it
checks each request's signature as docs/api.md tells receivers to, records the requests,
and fails the first `fail_first` of them with 500 (all of them when negative)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SignedReceiver:
    def __init__(
        self, fail_first: int = 0, *, secret: str = "", path: str = "/hook", ok_status: int = 204
    ) -> None:
        self.fail_first = fail_first
        self.secret = secret  # may be set after start: a webhook's secret comes back on create
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Fieldroute-Timestamp"]
                mac = hmac.new(
                    receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                )
                valid = hmac.compare_digest(
                    "sha256=" + mac.hexdigest(), self.headers["X-Fieldroute-Signature"]
                )
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": json.loads(body),
                            "valid": valid,
                            "age_s": abs(time.time() - int(timestamp)),
                        }
                    )
                    count = len(receiver.requests)
                failing = receiver.fail_first < 0 or count <= receiver.fail_first
                code = 401 if not valid else 500 if failing else ok_status
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
