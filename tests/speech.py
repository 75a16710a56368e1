"""The speech fixtures (tests/fixtures/speech) and WER scoring."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jiwer

SPEECH_DIR = Path(__file__).parent / "fixtures" / "speech"


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str
    language: str
    voice: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def load_clips() -> list[Clip]:
    manifest = json.loads((SPEECH_DIR / "manifest.json").read_text())
    return [
        Clip(SPEECH_DIR / entry["file"], entry["text"], entry["language"], entry["voice"])
        for entry in manifest
    ]


def english_clips() -> list[Clip]:
    return [clip for clip in load_clips() if clip.language == "en"]


_NORMALIZE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    return float(
        jiwer.wer(
            references,
            hypotheses,
            reference_transform=_NORMALIZE,
            hypothesis_transform=_NORMALIZE,
        )
    )
