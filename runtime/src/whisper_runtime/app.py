"""The FastAPI application: `create_app(settings)` builds it; the lifespan loads the model."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .engine import Engine, build_engine, warm_up_audio
from .errors import (
    InvalidRequestError,
    NotFoundError,
    NotReadyError,
    OverloadedError,
    RuntimeAPIError,
    envelope,
)
from .metrics import Metrics
from .middleware import BodySizeLimit, RequestContext
from .options import DecodeOptions
from .routes import audio_router, now, router
from .settings import RuntimeSettings
from .state import RuntimeState

log = logging.getLogger(__name__)


async def load_engine(state: RuntimeState, engine: Engine | None) -> None:
    """Load (unless given) and warm up the engine; /readyz turns 200 after this."""
    started = time.perf_counter()
    try:
        if engine is None:
            engine = await asyncio.to_thread(build_engine, state.settings, state.metrics)
        await engine.transcribe(warm_up_audio(), DecodeOptions(language="en", beam_size=1))
    except Exception as error:
        state.load_error = f"model failed to load: {error}"
        log.exception("model failed to load", extra={"model": state.settings.model})
        return
    elapsed = time.perf_counter() - started
    state.metrics.model_load_seconds.set(elapsed)
    state.metrics.model_ready.set(1)
    state.engine = engine
    log.info("model ready", extra={"model": state.settings.model, "seconds": round(elapsed, 2)})


def _error_response(error: RuntimeAPIError) -> JSONResponse:
    headers = {}
    if isinstance(error, OverloadedError):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, NotReadyError):
        headers["Retry-After"] = "5"
    return JSONResponse(envelope(error), status_code=error.status_code, headers=headers)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RuntimeAPIError):  # registered for this type only
        raise error
    return _error_response(error)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):  # registered for this type only
        raise error
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    param = location[0] if location else None
    message = first.get("msg", "invalid request")
    if first.get("type") == "missing":
        message = f"'{param}' is required"
        if param == "file":
            message += ": send the audio as a multipart field named 'file'"
    else:
        message = f"{param}: {message}" if param else message
    return _error_response(InvalidRequestError(message, param=param))


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, StarletteHTTPException):  # registered for this type only
        raise error
    if error.status_code == 404:
        return _error_response(NotFoundError("no such endpoint; see /docs for the API"))
    api_error = RuntimeAPIError(str(error.detail))
    api_error.status_code = error.status_code
    api_error.error_type = "invalid_request_error"
    return _error_response(api_error)


async def _unexpected_error(_: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=error)
    return _error_response(RuntimeAPIError(f"internal error: {type(error).__name__}"))


def create_app(settings: RuntimeSettings, engine: Engine | None = None) -> FastAPI:
    """Build the app. Pass `engine` to share an already loaded model (the app then only
    warms it up, and shares its metrics); otherwise the model named by `settings` is loaded
    in the background."""
    metrics = engine.metrics if engine is not None else Metrics()
    state = RuntimeState(
        settings=settings, metrics=metrics, api_keys=settings.load_api_keys(), created=now()
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(load_engine(state, engine))
        try:
            yield
        finally:
            loading.cancel()
            if state.engine is not None and engine is None:
                state.engine.close()

    app = FastAPI(
        title="whisper-prod runtime",
        version=__version__,
        description="OpenAI-compatible speech-to-text on faster-whisper",
        lifespan=lifespan,
    )
    app.state.runtime = state
    app.include_router(router)
    app.include_router(audio_router)
    app.add_exception_handler(RuntimeAPIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(
        BodySizeLimit,
        single_limit=settings.max_upload_bytes,
        batch_limit=settings.max_upload_bytes * settings.max_batch_files,
    )
    app.add_middleware(RequestContext, metrics=metrics)
    return app
