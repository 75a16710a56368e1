"""Many requests at once: a bad one fails alone; a full queue says 429 and then recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest
from faster_whisper import WhisperModel

from tests.runtime.conftest import http_client, openai_client, running_app
from tests.speech import Clip, word_error_rate
from whisper_runtime.engine import ParallelEngine
from whisper_runtime.metrics import Metrics

pytestmark = pytest.mark.api


async def test_eight_at_once_with_a_corrupt_one(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    uploads = [(c.path.name, c.data) for c in clips[:7]]
    uploads.insert(3, ("corrupt.wav", b"RIFF" + bytes(range(256)) * 20))

    async def send(upload: tuple[str, bytes]) -> str | Exception:
        try:
            result = await client.audio.transcriptions.create(model="whisper-1", file=upload)
        except openai.APIStatusError as error:
            return error
        return result.text

    outcomes = await asyncio.gather(*(send(upload) for upload in uploads))
    failed = outcomes.pop(3)
    assert isinstance(failed, openai.BadRequestError)
    assert all(isinstance(text, str) for text in outcomes)
    texts = [str(text) for text in outcomes]
    assert word_error_rate([c.text for c in clips[:7]], texts) <= 0.12


async def test_full_queue_answers_429_with_retry_after_then_recovers(
    tiny_model_dir: Path, tiny_model: WhisperModel, clips: list[Clip]
) -> None:
    # Two admitted at a time: the third and later concurrent requests must be refused.
    engine = ParallelEngine(tiny_model, workers=1, max_queue=2, metrics=Metrics())
    async with running_app(tiny_model_dir, engine) as app, http_client(app) as http:

        async def send(clip: Clip) -> tuple[int, dict[str, str], dict[str, object]]:
            response = await http.post(
                "/v1/audio/transcriptions",
                files={"file": (clip.path.name, clip.data, "audio/wav")},
                data={"model": "whisper-1"},
            )
            return response.status_code, dict(response.headers), response.json()

        results = await asyncio.gather(*(send(clip) for clip in clips[:6]))
        statuses = sorted(status for status, _, _ in results)
        assert statuses.count(200) == 2, statuses
        assert statuses.count(429) == 4, statuses
        refused = next(r for r in results if r[0] == 429)
        assert refused[1]["retry-after"] == "1"
        assert refused[2]["error"]["code"] == "queue_full"  # type: ignore[index]
        metrics = (await http.get("/metrics")).text
        assert 'whisper_errors_total{kind="queue_full"} 4.0' in metrics
        # Once the queue drains, requests succeed again.
        status, _, body = await send(clips[0])
        assert status == 200
        assert "calling" in str(body["text"]).lower()
        async with openai_client(app) as client:
            result = await client.audio.transcriptions.create(
                model="whisper-1", file=("a.wav", clips[1].data)
            )
            assert "demo" in result.text.lower()
    engine.close()
