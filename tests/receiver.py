"""Test support: a real webhook receiver on the loopback interface.

It verifies every request with :func:`phasedcare.service.webhooks.verify`, records what it
accepted in order, treats a redelivered ``webhook-id`` as a duplicate (answered 200, never a
new event) and can be told to fail or stall its next requests::

    with WebhookReceiver(secret=secret) as rx:
        sender.send(url=rx.url, secrets=[secret], ...)
        [received] = rx.wait_for(1)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from phasedcare.errors import SignatureInvalid
from phasedcare.service.webhooks import verify

__all__ = ["Received", "Rejected", "WebhookReceiver"]


@dataclass(frozen=True)
class Received:
    """One accepted delivery of a new event."""

    msg_id: str
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A request refused with 401, and the reason ``verify`` gave."""

    headers: dict[str, str]
    body: bytes
    reason: str


@dataclass
class _Failure:
    """How the next requests fail: a status with headers and a body, or a stall."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stall_seconds: float = 0.0


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a port the OS picks) that records verified webhooks.

    Thread-safe: the server answers each request on its own thread, and every shared field
    is read and written under one lock.
    """

    def __init__(
        self,
        *,
        secret: str = "",
        path: str = "/hooks",
        on_event: Callable[[dict[str, Any]], None] | None = None,
        tolerance_seconds: int = 300,
    ) -> None:
        self.secret, self.path, self.on_event = secret, path, on_event
        self.tolerance_seconds = tolerance_seconds
        self.received: list[Received] = []
        self.rejected: list[Rejected] = []
        self.duplicates = 0
        self.failed = 0
        self.callback_errors: list[BaseException] = []
        self._failures: list[_Failure] = []
        self._seen: set[str] = set()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WebhookReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.receiver = self  # type: ignore[attr-defined]  # the handler finds us here
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Where to send webhooks, e.g. ``http://127.0.0.1:54321/hooks``."""
        if self._server is None:
            raise RuntimeError("the receiver is not started: use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def fail_next(
        self,
        n: int,
        *,
        status: int = 500,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        """Answer the next ``n`` verified requests with ``status`` (and these headers and body)."""
        with self._changed:
            for _ in range(n):
                self._failures.append(_Failure(status, dict(headers or {}), body))

    def stall_next(self, n: int, *, seconds: float) -> None:
        """Hold the next ``n`` verified requests for ``seconds`` before answering 200."""
        with self._changed:
            self._failures.extend(_Failure(200, stall_seconds=seconds) for _ in range(n))

    def unique_ids(self) -> list[str]:
        """The webhook-ids of the accepted events, in arrival order."""
        with self._changed:
            return [item.msg_id for item in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` unique events arrived and return them all, in order.

        Raises:
            AssertionError: on timeout, saying what did arrive.
        """
        with self._changed:
            if self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                return list(self.received)
            raise AssertionError(
                f"expected {count} unique webhook(s) within {timeout} s; got ids "
                f"{[item.msg_id for item in self.received]}, {self.duplicates} duplicate(s), "
                f"{self.failed} failed on purpose, rejected: "
                f"{[item.reason for item in self.rejected]}, "
                f"callback errors: {[repr(exc) for exc in self.callback_errors]}"
            )

    def respond(self, headers: dict[str, str], body: bytes) -> _Failure:
        """Decide the answer to one POST: 401, a planned failure, or 200 (new or duplicate)."""
        try:
            verify(
                self.secret, headers=headers, body=body, tolerance_seconds=self.tolerance_seconds
            )
        except SignatureInvalid as exc:
            with self._changed:
                self.rejected.append(Rejected(headers, body, exc.message))
            return _Failure(401)
        planned = self._next_failure()
        if planned is not None:
            return planned
        return self._accept(headers, body)

    def _next_failure(self) -> _Failure | None:
        with self._changed:
            if not self._failures:
                return None
            planned = self._failures.pop(0)
            if planned.stall_seconds == 0:
                self.failed += 1
        if planned.stall_seconds:
            self._stopping.wait(planned.stall_seconds)
            return None if not self._stopping.is_set() else _Failure(503)
        return planned

    def _accept(self, headers: dict[str, str], body: bytes) -> _Failure:
        msg_id = headers["webhook-id"]
        with self._changed:
            if msg_id in self._seen:
                self.duplicates += 1
                return _Failure(200)
            self._seen.add(msg_id)
        event: dict[str, Any] = json.loads(body)
        try:
            if self.on_event is not None:
                self.on_event(event)
        except Exception as exc:  # the callback's failure is reported by wait_for
            with self._changed:
                self._seen.discard(msg_id)
                self.callback_errors.append(exc)
            return _Failure(500)
        with self._changed:
            self.received.append(Received(msg_id, headers, body, event))
            self._changed.notify_all()
        return _Failure(200)


class _Handler(BaseHTTPRequestHandler):
    """Reads one POST, lets the receiver decide, and writes the answer."""

    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        """Answer a webhook delivery."""
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != receiver.path:
            self._answer(_Failure(404))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._answer(receiver.respond(headers, body))

    def _answer(self, answer: _Failure) -> None:
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            pass  # the sender gave up (a timeout test): nobody is left to answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""
