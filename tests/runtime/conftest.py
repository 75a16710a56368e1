"""Apps built by `create_app`, their lifespans run, and the official openai client on them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from fastapi import FastAPI
from faster_whisper import WhisperModel

from whisper_runtime.app import create_app
from whisper_runtime.engine import Engine, ParallelEngine
from whisper_runtime.metrics import Metrics
from whisper_runtime.settings import RuntimeSettings


@asynccontextmanager
async def running_app(
    model_dir: Path, engine: Engine | None = None, **settings: Any
) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running, once /readyz says ready."""
    app = create_app(RuntimeSettings(model=str(model_dir), **settings), engine=engine)
    async with app.router.lifespan_context(app):
        state = app.state.runtime
        for _ in range(600):
            if state.engine is not None or state.load_error is not None:
                break
            await asyncio.sleep(0.05)
        assert state.engine is not None, state.load_error
        yield app


def openai_client(app: FastAPI, api_key: str = "unused") -> openai.AsyncOpenAI:
    transport = httpx2.ASGITransport(app=app)
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url="http://runtime.test/v1",
        http_client=httpx2.AsyncClient(transport=transport, base_url="http://runtime.test"),
        max_retries=0,
    )


def http_client(app: FastAPI) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://runtime.test"
    )


@pytest.fixture(scope="session")
async def tiny_app(tiny_model_dir: Path, tiny_engine: ParallelEngine) -> AsyncIterator[FastAPI]:
    async with running_app(tiny_model_dir, tiny_engine, max_upload_mb=1) as app:
        yield app


@pytest.fixture(scope="session")
async def client(tiny_app: FastAPI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_client(tiny_app) as client:
        yield client


@pytest.fixture(scope="session")
def base_model(base_model_dir: Path) -> WhisperModel:
    return WhisperModel(
        str(base_model_dir), device="cpu", compute_type="int8", cpu_threads=1, num_workers=2
    )


@pytest.fixture(scope="session")
async def base_app(base_model_dir: Path, base_model: WhisperModel) -> AsyncIterator[FastAPI]:
    engine = ParallelEngine(base_model, workers=2, max_queue=16, metrics=Metrics())
    async with running_app(base_model_dir, engine) as app:
        yield app
    engine.close()
