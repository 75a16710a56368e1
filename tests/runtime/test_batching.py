"""The batching engine (the GPU layout), run on CPU with the real tiny.en."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from tests.speech import Clip, word_error_rate
from whisper_runtime.audio import decode_audio
from whisper_runtime.batching import BatchingEngine, is_silent, needs_fallback
from whisper_runtime.metrics import Metrics
from whisper_runtime.options import DecodeOptions

pytestmark = pytest.mark.api


@pytest.fixture
def engine(tiny_model: WhisperModel) -> BatchingEngine:
    return BatchingEngine(
        tiny_model, max_batch_size=8, max_wait_seconds=0.05, max_queue=64, metrics=Metrics()
    )


def _histogram(metrics: Metrics, name: str) -> tuple[float, float]:
    samples = {s.name: s.value for m in metrics.registry.collect() for s in m.samples}
    return samples[f"{name}_sum"], samples[f"{name}_count"]


async def test_concurrent_requests_share_batches_and_match_sequential_decoding(
    engine: BatchingEngine, tiny_model: WhisperModel, clips: list[Clip]
) -> None:
    audios = [decode_audio(c.data) for c in clips]
    transcripts = await asyncio.gather(*(engine.transcribe(a, DecodeOptions()) for a in audios))
    engine.close()
    texts = [t.text for t in transcripts]
    assert word_error_rate([c.text for c in clips], texts) <= 0.12
    windows, batches = _histogram(engine.metrics, "whisper_batch_size")
    assert windows == len(clips)
    assert batches < len(clips), "windows of different requests were never decoded together"

    def sequential(audio: np.ndarray) -> str:
        segments, _ = tiny_model.transcribe(audio)
        return "".join(s.text for s in segments).strip()

    # Same options, same windows: batching must not change the words.
    assert texts == [sequential(a) for a in audios]


async def test_long_audio_is_cut_at_pauses_and_keeps_time(
    engine: BatchingEngine, clips: list[Clip]
) -> None:
    audio = np.concatenate([decode_audio(c.data) for c in clips])  # ~33 s: two windows
    transcript = await engine.transcribe(audio, DecodeOptions(word_timestamps=True))
    engine.close()
    assert transcript.duration == pytest.approx(audio.shape[0] / 16000)
    assert word_error_rate([" ".join(c.text for c in clips)], [transcript.text]) <= 0.12
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert transcript.segments[-1].end > 30.0
    assert [s.id for s in transcript.segments] == list(range(1, len(transcript.segments) + 1))
    words = transcript.words
    assert words
    assert words[-1].end <= transcript.duration + 0.5
    assert "approval" in words[-1].word.lower()


async def test_queue_limit_applies(tiny_model: WhisperModel, clips: list[Clip]) -> None:
    from whisper_runtime.errors import OverloadedError

    engine = BatchingEngine(
        tiny_model, max_batch_size=4, max_wait_seconds=0.0, max_queue=1, metrics=Metrics()
    )
    audio = decode_audio(clips[0].data)
    results = await asyncio.gather(
        *(engine.transcribe(audio, DecodeOptions()) for _ in range(3)), return_exceptions=True
    )
    engine.close()
    assert sum(isinstance(r, OverloadedError) for r in results) == 2
    assert "calling" in next(r for r in results if not isinstance(r, Exception)).text.lower()  # type: ignore[union-attr]


@pytest.mark.unit
def test_fallback_rules(tiny_model: WhisperModel) -> None:
    tokenizer = Tokenizer(tiny_model.hf_tokenizer, False, task="transcribe", language="en")

    class Options:
        compression_ratio_threshold = 2.4
        log_prob_threshold = -1.0
        no_speech_threshold = 0.6

    good = tokenizer.encode(" Thank you for calling, how can I help you today?")
    loop = tokenizer.encode(" the the the the the the the the the the the the the the the the")

    def output(tokens: list[int], logprob: float, no_speech: float) -> list[dict[str, object]]:
        return [{"tokens": tokens, "avg_logprob": logprob, "no_speech_prob": no_speech}]

    assert not needs_fallback(output(good, -0.3, 0.01), tokenizer, Options)
    assert needs_fallback(output(loop, -0.3, 0.01), tokenizer, Options)  # repetitive
    assert needs_fallback(output(good, -1.5, 0.01), tokenizer, Options)  # unlikely
    assert not needs_fallback(output(good, -1.5, 0.9), tokenizer, Options)  # silence
    assert is_silent(output(good, -1.5, 0.9), Options)
    assert not is_silent(output(good, -0.3, 0.9), Options)


async def test_a_window_that_breaks_its_batch_fails_alone(
    engine: BatchingEngine, clips: list[Clip]
) -> None:
    from whisper_runtime.batching import _Window

    loop = asyncio.get_running_loop()
    prepared = engine._prepare(decode_audio(clips[0].data), DecodeOptions())
    good = [
        _Window(prepared.plan, prepared.features[0], prepared.metadata[0], loop.create_future())
    ]
    good.append(
        _Window(prepared.plan, prepared.features[0], prepared.metadata[0], loop.create_future())
    )
    # Features of the wrong shape (3 mel bins) make the batched call fail as a whole.
    broken = _Window(
        prepared.plan, np.zeros((3, 3000), np.float32), prepared.metadata[0], loop.create_future()
    )
    engine._dispatcher = asyncio.create_task(engine._dispatch())
    for window in (good[0], broken, good[1]):
        engine._enqueue(window)
    outcomes = await asyncio.gather(
        *(w.future for w in (good[0], broken, good[1])), return_exceptions=True
    )
    engine.close()
    assert isinstance(outcomes[1], Exception)
    for outcome in (outcomes[0], outcomes[2]):
        assert isinstance(outcome, list)
        assert "calling" in "".join(segment["text"] for segment in outcome).lower()
