"""Transcription engines: the model, and how requests share it without blocking the loop.

`ParallelEngine` runs whole requests on parallel model workers (CTranslate2 inter-op
workers), the fastest layout on CPU. `BatchingEngine` (batching.py) decodes 30-second
windows of different requests together, the fastest layout on a GPU. Both admit a bounded
number of requests and refuse the rest with `OverloadedError`, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from faster_whisper import WhisperModel

from .audio import SAMPLE_RATE, Audio
from .errors import OverloadedError
from .metrics import Metrics
from .models import resolve_model
from .options import DecodeOptions
from .settings import RuntimeSettings
from .transcript import Segment, Transcript, Word

log = logging.getLogger(__name__)


def load_model(settings: RuntimeSettings, cache_dir: Path) -> WhisperModel:
    """Load the model the settings name, with the worker layout of the chosen scheduler."""
    device = settings.resolved_device
    compute_type = settings.compute_type
    if compute_type == "default":
        compute_type = "float16" if device == "cuda" else "int8"
    path = resolve_model(settings.model, cache_dir)
    log.info(
        "loading model",
        extra={
            "model": settings.model,
            "path": path,
            "device": device,
            "compute_type": compute_type,
            "workers": settings.resolved_workers,
            "cpu_threads": settings.resolved_cpu_threads,
        },
    )
    return WhisperModel(
        path,
        device=device,
        compute_type=compute_type,
        cpu_threads=settings.resolved_cpu_threads,
        num_workers=settings.resolved_workers,
        download_root=str(cache_dir),
    )


def to_segments(raw: Iterable[Any]) -> tuple[Segment, ...]:
    """faster-whisper's segments as ours (consumes the generator: this is the decoding)."""
    return tuple(
        Segment(
            id=s.id,
            seek=s.seek,
            start=float(s.start),
            end=float(s.end),
            text=s.text,
            tokens=tuple(s.tokens),
            temperature=float(s.temperature or 0.0),
            avg_logprob=float(s.avg_logprob),
            compression_ratio=float(s.compression_ratio),
            no_speech_prob=float(s.no_speech_prob),
            words=(
                None
                if s.words is None
                else tuple(
                    Word(float(w.start), float(w.end), w.word, float(w.probability))
                    for w in s.words
                )
            ),
        )
        for s in raw
    )


def transcribe_with_model(model: WhisperModel, audio: Audio, options: DecodeOptions) -> Transcript:
    """One blocking transcription, exactly as faster-whisper's own `transcribe` does it."""
    started = time.perf_counter()
    raw_segments, info = model.transcribe(audio, **options.transcribe_kwargs())
    segments = to_segments(raw_segments)
    return Transcript(
        language=info.language,
        language_probability=float(info.language_probability),
        duration=float(info.duration),
        segments=segments,
        task=options.task,
        processing_seconds=time.perf_counter() - started,
    )


def warm_up_audio() -> Audio:
    """Two seconds of quiet noise: enough to run the encoder and decoder once."""
    generator = np.random.default_rng(0)
    return (generator.standard_normal(2 * SAMPLE_RATE) * 0.01).astype(np.float32)


class Engine(Protocol):
    """What the server and the batch worker need from an engine."""

    metrics: Metrics

    @property
    def is_multilingual(self) -> bool: ...

    async def transcribe(self, audio: Audio, options: DecodeOptions) -> Transcript: ...

    def close(self) -> None: ...


class Admission:
    """Counts requests admitted into an engine and refuses those past `capacity`.

    Runs on the event loop only, so plain integers suffice.
    """

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self.admitted = 0
        self.metrics = metrics
        metrics.queue_capacity.set(capacity)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.admitted >= self.capacity:
            self.metrics.errors.labels(kind="queue_full").inc()
            raise OverloadedError(
                f"the server is at capacity ({self.capacity} requests in progress); "
                "retry after a short wait",
                retry_after=1,
            )
        self.admitted += 1
        self.metrics.in_flight.inc()
        try:
            yield
        finally:
            self.admitted -= 1
            self.metrics.in_flight.dec()


class ParallelEngine:
    """Whole requests on `workers` parallel model workers; the rest wait in FIFO order."""

    def __init__(self, model: WhisperModel, workers: int, max_queue: int, metrics: Metrics) -> None:
        self.model = model
        self.workers = workers
        self.metrics = metrics
        self.admission = Admission(max_queue, metrics)
        # Two caller threads per model worker: while one request is in faster-whisper's
        # Python-side steps (features, tokens, timestamps), another keeps the worker busy.
        self._executor = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="whisper")

    @property
    def is_multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def _run(self, audio: Audio, options: DecodeOptions) -> Transcript:
        self.metrics.queue_depth.dec()  # it left the queue: a thread picked it up
        transcript = transcribe_with_model(self.model, audio, options)
        self.metrics.inference_seconds.observe(transcript.processing_seconds)
        self.metrics.batch_size.observe(1)
        return transcript

    async def transcribe(self, audio: Audio, options: DecodeOptions) -> Transcript:
        with self.admission.slot():
            self.metrics.queue_depth.inc()
            loop = asyncio.get_running_loop()
            transcript = await loop.run_in_executor(self._executor, self._run, audio, options)
        self.metrics.audio_seconds.inc(transcript.duration)
        return transcript

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_engine(settings: RuntimeSettings, metrics: Metrics) -> Engine:
    """Load the model and wrap it in the scheduler the settings choose."""
    from .batching import BatchingEngine
    from .models import default_cache_dir

    cache_dir = settings.model_cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(settings, cache_dir)
    if settings.resolved_scheduler == "batched":
        return BatchingEngine(
            model,
            max_batch_size=settings.max_batch_size,
            max_wait_seconds=settings.max_wait_ms / 1000,
            max_queue=settings.max_queue,
            metrics=metrics,
        )
    return ParallelEngine(model, settings.resolved_workers, settings.max_queue, metrics)
