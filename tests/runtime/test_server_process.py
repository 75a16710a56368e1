"""`whisper-runtime serve` as a real process on a real socket, driven by the sync openai client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.speech import Clip, word_error_rate

pytestmark = pytest.mark.api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        **os.environ,
        # Every setting through its WHISPER_* twin; the port as a flag, which wins.
        "WHISPER_MODEL": "tiny.en",
        "WHISPER_API_KEYS": "sales-team-key",
        "WHISPER_HOST": "127.0.0.1",
        "WHISPER_PORT": "1",
        "WHISPER_MAX_UPLOAD_MB": "2",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "whisper_runtime.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server never became ready:\n{log_path.read_text()}")
    yield url, log_path
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells it.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log_path.read_text()


def test_openai_client_over_http(server: tuple[str, Path], clips: list[Clip]) -> None:
    url, log_path = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sales-team-key", max_retries=0)
    texts = []
    for clip in clips[:3]:
        with clip.path.open("rb") as audio:
            texts.append(client.audio.transcriptions.create(model="whisper-1", file=audio).text)
    assert word_error_rate([c.text for c in clips[:3]], texts) <= 0.12
    srt = client.audio.transcriptions.create(
        model="tiny.en", file=clips[0].path, response_format="srt"
    )
    assert str(srt).startswith("1\n00:00:00,000 --> ")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).models.list()
    with pytest.raises(openai.APIStatusError) as caught:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\0" * 3_000_000))
    assert caught.value.status_code == 413

    # Structured logs: JSON lines, each request with its id and status.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("message") == "request"]
    assert any(r["status"] == 200 and r["request_id"] for r in requests)
    assert any(r["status"] == 401 for r in requests)
    assert any(line.get("message") == "model ready" for line in lines)


def test_request_id_is_echoed(server: tuple[str, Path]) -> None:
    url, _ = server
    response = httpx.get(f"{url}/healthz", headers={"x-request-id": "call-42"})
    assert response.headers["x-request-id"] == "call-42"
