"""The naive design the benchmark compares against: one blocking `model.transcribe` per
request, called inside the async handler (so requests run one at a time).

    python bench/naive_server.py MODEL_DIR PORT CPU_THREADS
"""

from __future__ import annotations

import io
import sys
from typing import Annotated

import uvicorn
from fastapi import FastAPI, File, UploadFile
from faster_whisper import WhisperModel


def main() -> None:
    model_path, port, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=threads)
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/audio/transcriptions")
    async def transcribe(file: Annotated[UploadFile, File()]) -> dict[str, str]:
        segments, _ = model.transcribe(io.BytesIO(await file.read()))
        return {"text": "".join(s.text for s in segments).strip()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
