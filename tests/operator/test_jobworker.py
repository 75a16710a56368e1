"""The TranscriptionJob worker's pure parts: inputs, status entries, output files."""

from __future__ import annotations

from pathlib import Path

import pytest

from whisper_runtime.jobworker import (
    expand_inputs,
    output_stem,
    result_entry,
    status_text_limit,
    write_outputs,
)
from whisper_runtime.transcript import Segment, Transcript
from whisper_runtime.worker import ItemResult

pytestmark = pytest.mark.unit


def test_inputs_expand_globs_on_mounted_claims(tmp_path: Path) -> None:
    calls = tmp_path / "calls" / "2026"
    calls.mkdir(parents=True)
    for name in ("b.wav", "a.wav", "notes.txt"):
        (calls / name).write_bytes(b"x")
    sources = expand_inputs(
        [
            {"url": "https://a/1.wav"},
            {"pvc": {"claimName": "calls", "path": "2026/*.wav"}},
            {"pvc": {"claimName": "calls", "path": "/2026/notes.txt"}},
        ],
        tmp_path,
    )
    assert [s.key for s in sources] == [
        "https://a/1.wav",
        "pvc://calls/2026/a.wav",
        "pvc://calls/2026/b.wav",
        "pvc://calls/2026/notes.txt",
    ]
    assert sources[1].locator == str(calls / "a.wav")
    assert all(s.problem is None for s in sources)
    # A glob that matches nothing fails as one input instead of vanishing from the job.
    [empty] = expand_inputs([{"pvc": {"claimName": "calls", "path": "2027/*.wav"}}], tmp_path)
    assert empty.key == "pvc://calls/2027/*.wav"
    assert empty.problem == "no files match pvc://calls/2027/*.wav"


def test_status_text_stays_small() -> None:
    assert status_text_limit(1) == 4000
    assert status_text_limit(10_000) == 200
    assert status_text_limit(1000) * 1000 <= 400_000
    transcript = Transcript(
        "en", 1.0, 3.0, (Segment(1, 0, 0.0, 3.0, " " + "word " * 100, (), 0.0, -0.1, 1.0, 0.0),)
    )
    entry = result_entry(ItemResult("https://a/1.wav", "Succeeded", transcript), 50, None)
    assert len(entry["text"]) == 50
    assert entry["truncated"] is True
    assert entry["durationSeconds"] == 3.0
    failed = result_entry(
        ItemResult("https://a/2.wav", "Failed", error="x" * 5000, attempts=3), 50, None
    )
    assert failed["state"] == "Failed"
    assert len(failed["error"]) == 1000
    assert failed["attempts"] == 3


def test_outputs_are_written_in_every_format(tmp_path: Path) -> None:
    transcript = Transcript(
        "en", 1.0, 2.0, (Segment(1, 0, 0.0, 2.0, " Hello there.", (1,), 0.0, -0.1, 1.0, 0.0),)
    )
    stem = Path(write_outputs(tmp_path, "https://calls.example/a b.wav", transcript))
    assert stem.name.startswith("calls.example_a_b.wav-")
    assert stem.with_suffix(".txt").read_text() == "Hello there.\n"
    assert "00:00:00,000 --> 00:00:02,000" in stem.with_suffix(".srt").read_text()
    assert stem.with_suffix(".vtt").read_text().startswith("WEBVTT")
    assert '"input": "https://calls.example/a b.wav"' in stem.with_suffix(".json").read_text()
    assert output_stem("pvc://c/x.wav") != output_stem("pvc://c/x_wav")
