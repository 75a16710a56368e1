"""`whisper-runtime transcribe` and `whisper-runtime batch` as a user runs them."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.speech import SPEECH_DIR, Clip, word_error_rate

pytestmark = pytest.mark.api

CLI = [sys.executable, "-m", "whisper_runtime.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def audio_server() -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SPEECH_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_transcribe_prints_each_file_and_fails_only_the_bad_one(
    clips: list[Clip], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio" * 100)
    result = run("transcribe", str(clips[0].path), str(broken), str(clips[1].path))
    assert result.returncode == 1
    assert "broken.mp3: error: invalid audio" in result.stderr
    assert word_error_rate([clips[0].text], [result.stdout.split("<==")[1].split("==>")[0]]) < 0.2
    assert "schedule a demo" in result.stdout


def test_transcribe_formats(clips: list[Clip]) -> None:
    vtt = run("transcribe", str(clips[2].path), "--format", "vtt")
    assert vtt.returncode == 0, vtt.stderr
    assert vtt.stdout.startswith("WEBVTT\n\n00:00:00.000 --> ")
    verbose = run("transcribe", str(clips[2].path), "--format", "verbose_json", "--word-timestamps")
    body = json.loads(verbose.stdout)
    assert body["language"] == "english"
    assert body["words"][0]["start"] >= 0


def test_batch_writes_one_json_line_per_input(audio_server: str, clips: list[Clip]) -> None:
    inputs = [
        f"{audio_server}/{clips[0].path.name}",
        f"{audio_server}/missing.wav",
        str(clips[3].path),
    ]
    result = run("batch", *inputs, "--max-retries", "1")
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == inputs
    assert [line["state"] for line in lines] == ["Succeeded", "Failed", "Succeeded"]
    assert word_error_rate([clips[0].text], [lines[0]["text"]]) <= 0.15
    assert "404" in lines[1]["error"]
    assert lines[1]["attempts"] == 2
    assert lines[2]["durationSeconds"] > 1
    assert lines[2]["language"] == "en"


def test_bad_setting_names_the_flag_and_variable() -> None:
    result = run("transcribe", "x.wav", "--max-upload-mb", "-1")
    assert result.returncode == 2
    assert "--max-upload-mb (WHISPER_MAX_UPLOAD_MB)" in result.stderr


def test_help_explains_env_twins() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    assert "WHISPER_MAX_QUEUE" in result.stdout
    assert "WHISPER_API_KEYS" in result.stdout


def test_download_copies_a_packaged_model_that_then_serves(
    tmp_path: Path, clips: list[Clip]
) -> None:
    target = tmp_path / "tiny"
    result = run("download", "--model", "tiny.en", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "model.bin").stat().st_size > 10_000_000
    transcribed = run("transcribe", str(clips[1].path), "--model", str(target))
    assert "schedule a demo" in transcribed.stdout


def test_a_folder_without_model_bin_is_refused(tmp_path: Path, clips: list[Clip]) -> None:
    result = run("transcribe", str(clips[0].path), "--model", str(tmp_path))
    assert result.returncode != 0
    assert "holds no model.bin" in result.stderr
