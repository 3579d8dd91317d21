"""A local HTTP server standing in for a webhook target (ntfy, Gotify, a chat hook) in tests: it answers
POSTs with the statuses it is given (then 200) and records each request.

Threads: ``http.server``'s serving thread and one thread per request put on ``received``; the test's
thread takes from it; ``close`` shuts the server down and joins its thread.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class HookServer:
    """A local HTTP server that answers POSTs with the statuses it is given (then 200), recording each."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: queue.Queue[Received] = queue.Queue()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.received.put(Received(self.path, dict(self.headers.items()), body))
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook?token=abc"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def take(self, timeout: float = 30.0) -> Received:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
