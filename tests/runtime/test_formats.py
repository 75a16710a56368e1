from __future__ import annotations

import pytest

from whisper_runtime.formats import render, timestamp, to_srt, to_vtt
from whisper_runtime.transcript import Segment, Transcript, Word

pytestmark = pytest.mark.unit


def _segment(
    i: int, start: float, end: float, text: str, words: tuple[Word, ...] | None = None
) -> Segment:
    return Segment(
        id=i, seek=0, start=start, end=end, text=text, tokens=(1, 2), temperature=0.0,
        avg_logprob=-0.2, compression_ratio=1.1, no_speech_prob=0.01, words=words,
    )  # fmt: skip


TRANSCRIPT = Transcript(
    language="en",
    language_probability=1.0,
    duration=3723.5,
    segments=(
        _segment(
            1, 0.0, 2.5, " Hello there.",
            (Word(0.0, 1.0, " Hello", 0.9), Word(1.0, 2.5, " there.", 0.8)),
        ),
        _segment(2, 3661.25, 3723.456, " Goodbye."),
    ),
)  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "marker", "hours", "expected"),
    [
        (0.0, ",", True, "00:00:00,000"),
        (1.2345, ",", True, "00:00:01,234"),
        (59.9996, ".", True, "00:01:00.000"),
        (3661.25, ",", True, "01:01:01,250"),
        (61.5, ".", False, "01:01.500"),
        (-0.2, ".", True, "00:00:00.000"),
    ],
)
def test_timestamp(seconds: float, marker: str, hours: bool, expected: str) -> None:
    assert timestamp(seconds, marker, hours) == expected


def test_srt_numbers_blocks_and_uses_commas() -> None:
    assert to_srt(TRANSCRIPT.segments) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n01:01:01,250 --> 01:02:03,456\nGoodbye.\n"
    )


def test_vtt_has_header_and_dots() -> None:
    assert to_vtt(TRANSCRIPT.segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "01:01:01.250 --> 01:02:03.456\nGoodbye.\n"
    )


def test_json_and_text() -> None:
    assert render(TRANSCRIPT, "json") == {"text": "Hello there. Goodbye."}
    assert render(TRANSCRIPT, "text") == "Hello there. Goodbye.\n"


def test_verbose_json_segments_and_words() -> None:
    body = render(TRANSCRIPT, "verbose_json", frozenset({"word"}))
    assert isinstance(body, dict)
    assert body["language"] == "english"
    assert body["duration"] == 3723.5
    assert "segments" not in body  # only the granularities asked for
    assert body["words"] == [
        {"word": "Hello", "start": 0.0, "end": 1.0},
        {"word": "there.", "start": 1.0, "end": 2.5},
    ]
    both = render(TRANSCRIPT, "verbose_json", frozenset({"word", "segment"}))
    assert isinstance(both, dict)
    assert [s["id"] for s in both["segments"]] == [1, 2]
    default = render(TRANSCRIPT, "verbose_json")
    assert isinstance(default, dict)
    assert "segments" in default
    assert "words" not in default
