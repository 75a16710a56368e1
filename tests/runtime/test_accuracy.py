"""Accuracy: the server says what faster-whisper says, and that is close to the truth."""

from __future__ import annotations

import asyncio

import openai
import pytest
from faster_whisper import WhisperModel

from tests.speech import Clip, word_error_rate

pytestmark = pytest.mark.api


async def test_corpus_wer_and_equality_with_faster_whisper(
    client: openai.AsyncOpenAI, tiny_model: WhisperModel, clips: list[Clip]
) -> None:
    served = await asyncio.gather(
        *(
            client.audio.transcriptions.create(model="whisper-1", file=(c.path.name, c.data))
            for c in clips
        )
    )
    served_texts = [result.text for result in served]

    def direct(clip: Clip) -> str:
        # faster-whisper's own defaults (beam 5, temperature fallback), from the file path.
        segments, _ = tiny_model.transcribe(str(clip.path))
        return "".join(segment.text for segment in segments).strip()

    direct_texts = [await asyncio.to_thread(direct, clip) for clip in clips]
    assert served_texts == direct_texts
    wer = word_error_rate([c.text for c in clips], served_texts)
    print(f"corpus WER over {len(clips)} clips: {wer:.3f}")
    assert wer <= 0.12
