"""Dynamic batching across requests: 30-second windows of different requests decoded in
one model call, the layout that keeps a GPU busy.

Each request is cut into windows (the whole clip up to 30 s; longer audio, or any audio
when VAD is asked for, into speech chunks of at most 30 s found by Silero VAD), and each
window waits in a queue keyed by everything that must be equal inside one CTranslate2
`generate` call (task, language, prompt, beam size, temperature, word timestamps). A batch
leaves when it is full, or when its oldest window has waited `max_wait_seconds`; after a
long model call the waiting windows are already older than that, so a busy engine never
waits. Windows whose result fails faster-whisper's quality checks (compression ratio,
average log-probability) go back to the queue at the next temperature of the fallback
ladder, so decoding quality follows faster-whisper's defaults.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import (
    Segment as FwSegment,
)
from faster_whisper.transcribe import (
    TranscriptionOptions,
    get_compression_ratio,
    get_suppressed_tokens,
    restore_speech_timestamps,
)
from faster_whisper.transcribe import (
    Word as FwWord,
)
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

from .audio import SAMPLE_RATE, Audio
from .engine import Admission, to_segments
from .metrics import Metrics
from .options import DecodeOptions
from .transcript import Transcript

WINDOW_SECONDS = 30


@dataclass(frozen=True)
class _Plan:
    """How one request decodes: tokenizer and one TranscriptionOptions per temperature."""

    tokenizer: Tokenizer
    options: tuple[TranscriptionOptions, ...]
    key: tuple[Any, ...]


@dataclass
class _Window:
    plan: _Plan
    features: np.ndarray
    metadata: dict[str, Any]
    future: asyncio.Future[list[dict[str, Any]]]
    temperature_index: int = 0
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[Any, ...]:
        return (*self.plan.key, self.temperature_index)

    @property
    def options(self) -> TranscriptionOptions:
        return self.plan.options[self.temperature_index]


@dataclass(frozen=True)
class _Prepared:
    plan: _Plan
    features: list[np.ndarray]
    metadata: list[dict[str, Any]]
    speech_chunks: list[dict[str, int]] | None
    language: str
    language_probability: float
    duration: float


def _transcription_options(
    tokenizer: Tokenizer, options: DecodeOptions, temperature: float
) -> TranscriptionOptions:
    # faster-whisper's defaults, as WhisperModel.transcribe sets them.
    return TranscriptionOptions(
        beam_size=options.beam_size if temperature == 0 else 1,
        best_of=5,
        patience=1,
        length_penalty=1,
        repetition_penalty=1,
        no_repeat_ngram_size=0,
        log_prob_threshold=-1.0,
        no_speech_threshold=0.6,
        compression_ratio_threshold=2.4,
        condition_on_previous_text=False,
        prompt_reset_on_temperature=0.5,
        temperatures=[temperature],
        initial_prompt=options.prompt,
        prefix=None,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        without_timestamps=False,
        max_initial_timestamp=1.0,
        word_timestamps=options.word_timestamps,
        prepend_punctuations="\"'“¿([{-",
        append_punctuations="\"'.。,，!！?？:：”)]}、",
        multilingual=False,
        max_new_tokens=None,
        clip_timestamps="0",
        hallucination_silence_threshold=None,
        hotwords=None,
    )


def needs_fallback(outputs: list[dict[str, Any]], tokenizer: Tokenizer, options: Any) -> bool:
    """faster-whisper's quality checks on one window's result."""
    if not outputs:
        return False
    tokens = [token for output in outputs for token in output["tokens"]]
    text = tokenizer.decode(tokens)
    avg_logprob = outputs[0]["avg_logprob"]
    too_repetitive = get_compression_ratio(text) > options.compression_ratio_threshold
    too_unlikely = avg_logprob < options.log_prob_threshold
    silent = outputs[0]["no_speech_prob"] > options.no_speech_threshold and too_unlikely
    return (too_repetitive or too_unlikely) and not silent


def is_silent(outputs: list[dict[str, Any]], options: Any) -> bool:
    if not outputs:
        return True
    return bool(
        outputs[0]["no_speech_prob"] > options.no_speech_threshold
        and outputs[0]["avg_logprob"] < options.log_prob_threshold
    )


class BatchingEngine:
    """Windows of concurrent requests decoded together; see the module docstring."""

    def __init__(
        self,
        model: WhisperModel,
        *,
        max_batch_size: int,
        max_wait_seconds: float,
        max_queue: int,
        metrics: Metrics,
        decoders: int = 1,
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        self.metrics = metrics
        self.admission = Admission(max_queue, metrics)
        self._decoders = decoders
        self._pending: dict[tuple[Any, ...], deque[_Window]] = {}
        self._wakeup = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._decode_pool = ThreadPoolExecutor(decoders, thread_name_prefix="whisper-decode")
        self._prepare_pool = ThreadPoolExecutor(2, thread_name_prefix="whisper-prepare")

    @property
    def is_multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    # --- per request, in the prepare threads -------------------------------------------

    def _prepare(self, audio: Audio, options: DecodeOptions) -> _Prepared:
        duration = audio.shape[0] / SAMPLE_RATE
        speech_chunks: list[dict[str, int]] | None = None
        step = WINDOW_SECONDS * SAMPLE_RATE
        # Fixed 30-s cuts would split words; longer audio is cut at pauses found by VAD.
        if options.vad or audio.shape[0] > step:
            speech_chunks = get_speech_timestamps(
                audio,
                VadOptions(max_speech_duration_s=WINDOW_SECONDS, min_silence_duration_ms=160),
            )
            chunks, metadata = collect_chunks(audio, speech_chunks, max_duration=WINDOW_SECONDS)
        else:
            chunks = [audio]
            metadata = [{"offset": 0.0, "duration": duration}]
        kept = [(c, m) for c, m in zip(chunks, metadata, strict=True) if c.shape[0] > 0]
        extractor = self.model.feature_extractor
        features = [pad_or_trim(extractor(chunk)[..., :-1]) for chunk, _ in kept]
        language, probability = options.language, 1.0
        if language is None:
            if self.is_multilingual and features:
                language, probability, _ = self.model.detect_language(features=features[0])
            else:
                language = "en"
        tokenizer = Tokenizer(
            self.model.hf_tokenizer, self.is_multilingual, task=options.task, language=language
        )
        plan = _Plan(
            tokenizer=tokenizer,
            options=tuple(
                _transcription_options(tokenizer, options, t) for t in options.temperatures
            ),
            key=(
                options.task,
                language,
                options.prompt,
                options.beam_size,
                options.word_timestamps,
            ),
        )
        return _Prepared(
            plan=plan,
            features=features,
            metadata=[m for _, m in kept],
            speech_chunks=speech_chunks,
            language=language,
            language_probability=float(probability),
            duration=duration,
        )

    # --- the batch loop, on the event loop ------------------------------------------------

    def _enqueue(self, window: _Window) -> None:
        self._pending.setdefault(window.key, deque()).append(window)
        self._wakeup.set()

    def _oldest_group(self) -> deque[_Window] | None:
        groups = [group for group in self._pending.values() if group]
        return min(groups, key=lambda g: g[0].enqueued) if groups else None

    async def _dispatch(self) -> None:
        running: set[asyncio.Task[None]] = set()
        while True:
            group = self._oldest_group()
            if group is None or len(running) >= self._decoders:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            wait = group[0].enqueued + self.max_wait_seconds - time.monotonic()
            if len(group) < self.max_batch_size and wait > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
                except TimeoutError:
                    pass
                continue
            batch = [group.popleft() for _ in range(min(len(group), self.max_batch_size))]
            task = asyncio.create_task(self._run_batch(batch))
            running.add(task)
            task.add_done_callback(running.discard)
            task.add_done_callback(lambda _: self._wakeup.set())

    async def _run_batch(self, batch: list[_Window]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            outputs = await loop.run_in_executor(self._decode_pool, self._decode, batch)
        except Exception as error:
            if len(batch) > 1:
                # Find the window that broke the call: each alone, so the others still succeed.
                await asyncio.gather(*(self._run_batch([window]) for window in batch))
            elif not batch[0].future.done():
                batch[0].future.set_exception(error)
            return
        self.metrics.inference_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(batch))
        for window, output in zip(batch, outputs, strict=True):
            last = window.temperature_index + 1 >= len(window.plan.options)
            if not last and needs_fallback(output, window.plan.tokenizer, window.options):
                self._enqueue(
                    dataclasses.replace(
                        window,
                        temperature_index=window.temperature_index + 1,
                        enqueued=time.monotonic(),
                    )
                )
            elif not window.future.done():
                window.future.set_result([] if is_silent(output, window.options) else output)

    def _decode(self, batch: list[_Window]) -> list[list[dict[str, Any]]]:
        """One model call for the batch (in a decoder thread; CTranslate2 frees the GIL)."""
        pipeline = BatchedInferencePipeline(self.model)
        features = np.stack([window.features for window in batch])
        outputs: list[list[dict[str, Any]]] = pipeline.forward(
            features, batch[0].plan.tokenizer, [w.metadata for w in batch], batch[0].options
        )
        for window, output in zip(batch, outputs, strict=True):
            for segment in output:
                segment["temperature"] = window.options.temperatures[0]
        return outputs

    # --- the public call ---------------------------------------------------------------------

    async def transcribe(self, audio: Audio, options: DecodeOptions) -> Transcript:
        with self.admission.slot():
            started = time.perf_counter()
            if self._dispatcher is None or self._dispatcher.done():
                self._dispatcher = asyncio.create_task(self._dispatch())
            loop = asyncio.get_running_loop()
            prepared = await loop.run_in_executor(self._prepare_pool, self._prepare, audio, options)
            windows = [
                _Window(prepared.plan, features, metadata, loop.create_future())
                for features, metadata in zip(prepared.features, prepared.metadata, strict=True)
            ]
            self.metrics.queue_depth.inc(len(windows))
            for window in windows:
                self._enqueue(window)
            try:
                outputs = await asyncio.gather(*(w.future for w in windows))
            finally:
                self.metrics.queue_depth.dec(len(windows))
            transcript = self._assemble(prepared, outputs, options, started)
        self.metrics.audio_seconds.inc(transcript.duration)
        return transcript

    @staticmethod
    def _assemble(
        prepared: _Prepared,
        outputs: list[list[dict[str, Any]]],
        options: DecodeOptions,
        started: float,
    ) -> Transcript:
        raw: list[FwSegment] = []
        for output in outputs:
            for segment in output:
                raw.append(
                    FwSegment(
                        id=len(raw) + 1,
                        seek=segment["seek"],
                        start=round(segment["start"], 3),
                        end=round(segment["end"], 3),
                        text=segment["text"],
                        tokens=segment["tokens"],
                        avg_logprob=segment["avg_logprob"],
                        compression_ratio=segment["compression_ratio"],
                        no_speech_prob=segment["no_speech_prob"],
                        words=(
                            [FwWord(**word) for word in segment["words"]]
                            if options.word_timestamps
                            else None
                        ),
                        temperature=segment["temperature"],
                    )
                )
        restored = (
            restore_speech_timestamps(raw, prepared.speech_chunks, SAMPLE_RATE)
            if prepared.speech_chunks is not None
            else raw
        )
        return Transcript(
            language=prepared.language,
            language_probability=prepared.language_probability,
            duration=prepared.duration,
            segments=to_segments(restored),
            task=options.task,
            processing_seconds=time.perf_counter() - started,
        )

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        self._decode_pool.shutdown(wait=False, cancel_futures=True)
        self._prepare_pool.shutdown(wait=False, cancel_futures=True)
