"""Decoding options of one request, and how they map onto faster-whisper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .transcript import Task

# faster-whisper's (and OpenAI Whisper's) temperature fallback ladder.
FALLBACK_TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to decode. Defaults are faster-whisper's: beam 5 with temperature fallback."""

    language: str | None = None
    task: Task = "transcribe"
    prompt: str | None = None
    # None or 0 means "start greedy and fall back to higher temperatures", as OpenAI does.
    temperature: float | None = None
    beam_size: int = 5
    vad: bool = False
    word_timestamps: bool = False

    @property
    def temperatures(self) -> tuple[float, ...]:
        if not self.temperature:
            return FALLBACK_TEMPERATURES
        return (self.temperature,)

    def transcribe_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `WhisperModel.transcribe`."""
        return {
            "language": self.language,
            "task": self.task,
            "initial_prompt": self.prompt or None,
            "temperature": list(self.temperatures),
            "beam_size": self.beam_size,
            "vad_filter": self.vad,
            "word_timestamps": self.word_timestamps,
        }
