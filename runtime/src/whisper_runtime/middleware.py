"""ASGI middleware: request ids, access logs and metrics, and the upload size cap."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLargeError, envelope
from .logs import request_id
from .metrics import Metrics

log = logging.getLogger("whisper_runtime.access")


class _BodyTooLarge(Exception):
    pass


async def _send_error(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse request bodies over a limit while they stream in, before they are buffered.

    `limit_for(path)` gives the limit of a path, so the batch endpoint may take several files.
    """

    def __init__(self, app: ASGIApp, single_limit: int, batch_limit: int) -> None:
        self.app = app
        self.single_limit = single_limit
        self.batch_limit = batch_limit

    def limit_for(self, path: str) -> int:
        return self.batch_limit if path.endswith("_batch") else self.single_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        # Multipart framing adds a little around the file; allow it on top of the limit.
        allowed = limit + 64 * 1024
        error = PayloadTooLargeError(
            f"the upload is larger than this server's limit of {limit / 1024 / 1024:g} MiB "
            "(set WHISPER_MAX_UPLOAD_MB to change it)",
            param="file",
        )
        body = json.dumps(envelope(error)).encode()
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > allowed:
                await _send_error(send, 413, body, [(b"connection", b"close")])
                return
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def replacing_send(message: Message) -> None:
            # The form parser turns our exception into its own 400; answer 413 instead.
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await _send_error(send, 413, body, [(b"connection", b"close")])

        try:
            await self.app(scope, limited_receive, replacing_send)
        except _BodyTooLarge:
            await _send_error(send, 413, body, [(b"connection", b"close")])


class RequestContext:
    """Give each request an id (X-Request-ID, or a new one), log it, and count it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def _endpoint(self, scope: Scope) -> str:
        # The route template, so metrics do not grow a series per distinct URL.
        app = scope.get("app")
        router = getattr(app, "router", None)
        for route in getattr(router, "routes", []):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", scope["path"]))
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        current = incoming[:128] or uuid.uuid4().hex
        token = request_id.set(current)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", current.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            endpoint = self._endpoint(scope)
            if endpoint not in ("/metrics", "/healthz", "/readyz"):
                self.metrics.requests.labels(endpoint=endpoint, status=str(status)).inc()
                self.metrics.request_latency.labels(endpoint=endpoint).observe(elapsed)
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
            request_id.reset(token)
