"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that records every
request and answers from a script."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """``script`` lists the answers to successive requests: an HTTP status, ``"hang"``
    (hold the request until ``release()``) or ``"trickle"`` (send the answer's head a
    byte every 0.1 s for 20 s); after the script, every request gets 204.

    ``tls``: an ``ssl.SSLContext`` (server side) makes it an https receiver; the TLS server
    names clients asked for are kept in ``server_names``. ``host``: the address it listens
    on (another loopback address, or ``::1``)."""

    def __init__(self, script=(), *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.script = list(script)
        self.requests: list[Received] = []
        self.server_names: list[str | None] = []
        self.hanging = 0
        self._released = threading.Event()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    answer = receiver.script.pop(0) if receiver.script else 204
                if answer == "trickle":
                    # headers one byte at a time: each step is quick, the whole never ends
                    try:
                        for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 200:
                            self.wfile.write(bytes([b]))
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass
                    with receiver._cond:
                        receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                          body, 200))
                        receiver._cond.notify_all()
                    self.close_connection = True
                    return
                status = 204 if answer == "hang" else answer
                if answer == "hang":
                    with receiver._cond:
                        receiver.hanging += 1
                        receiver._cond.notify_all()
                    receiver._released.wait(120)
                with receiver._cond:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, status))
                    if answer == "hang":
                        receiver.hanging -= 1
                    receiver._cond.notify_all()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting: that is the point of "hang"
                    pass

            def log_message(self, *args) -> None:
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family

        self.server = Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        if tls is not None:
            def sni(sock, name, ctx) -> None:
                self.server_names.append(name)

            tls.sni_callback = sni
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{shown}:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 60) -> list[Received]:
        """Blocks until ``n`` requests were answered (not a sleep: wakes on each one)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.requests)} of {n} requests in {timeout} s")
                self._cond.wait(left)
            return list(self.requests)

    def wait_hanging(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.hanging == 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no request arrived to hang")
                self._cond.wait(left)

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
