"""The batch core: a list of audio sources in, one result (or error) per source out.

`whisper-runtime transcribe` and `whisper-runtime batch` use it, and so do the workers of a
TranscriptionJob. A source that cannot be fetched or decoded fails alone; the others go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from .audio import AudioDecodeError, decode_audio
from .engine import Engine
from .errors import FetchError, InvalidAudioError, RuntimeAPIError
from .options import DecodeOptions
from .s3 import S3Store
from .transcript import Transcript

ItemState = Literal["Succeeded", "Failed"]
# Turns a file's bytes (and its name) into a transcript: a local engine, or a pool's API.
Transcriber = Callable[[bytes, str], Awaitable[Transcript]]


@dataclass(frozen=True)
class ItemResult:
    input: str
    state: ItemState
    transcript: Transcript | None = None
    error: str | None = None
    attempts: int = 1

    @property
    def text(self) -> str:
        return self.transcript.text if self.transcript else ""


async def fetch_audio(
    source: str, client: httpx.AsyncClient, max_bytes: int, s3: S3Store | None = None
) -> bytes:
    """Read a source: an http(s) URL, an s3:// object or a local path. Refuse more than
    `max_bytes`."""
    if source.startswith("s3://"):
        return await asyncio.to_thread((s3 or S3Store()).read, source, max_bytes)
    if source.startswith(("http://", "https://")):
        try:
            async with client.stream("GET", source, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise FetchError(f"GET {source} answered HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{source} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as error:
            raise FetchError(f"GET {source} failed: {error}") from error
    return await asyncio.to_thread(_read_file, Path(source.removeprefix("file://")), max_bytes)


def _read_file(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise FetchError(f"{path} is not a readable file")
    if path.stat().st_size > max_bytes:
        raise FetchError(f"{path} is larger than {max_bytes} bytes")
    return path.read_bytes()


def engine_transcriber(engine: Engine, options: DecodeOptions) -> Transcriber:
    """Decode here and transcribe with a model loaded in this process."""

    async def transcribe(data: bytes, name: str) -> Transcript:
        try:
            audio = await asyncio.to_thread(decode_audio, data)
        except AudioDecodeError as error:
            raise InvalidAudioError(f"{name}: {error}") from error
        return await engine.transcribe(audio, options)

    return transcribe


async def transcribe_one(
    source: str,
    transcribe: Transcriber,
    client: httpx.AsyncClient,
    max_bytes: int,
    max_retries: int = 0,
    locator: str | None = None,
    s3: S3Store | None = None,
) -> ItemResult:
    """Fetch and transcribe one source (read from `locator` when given, e.g. the path a
    pvc:// input is mounted at). Fetch and server failures are retried up to `max_retries`
    times; invalid audio is not (it would fail the same way)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            data = await fetch_audio(locator or source, client, max_bytes, s3)
            transcript = await transcribe(data, source.rsplit("/", 1)[-1])
            return ItemResult(source, "Succeeded", transcript=transcript, attempts=attempt)
        except InvalidAudioError as error:
            return ItemResult(
                source, "Failed", error=f"invalid audio: {error.message}", attempts=attempt
            )
        except (FetchError, RuntimeAPIError, httpx.HTTPError) as error:
            message = str(error)
        if attempt > max_retries:
            return ItemResult(source, "Failed", error=message, attempts=attempt)
        await asyncio.sleep(min(30.0, 0.5 * 2**attempt))


async def transcribe_sources(
    sources: list[str],
    engine: Engine,
    options: DecodeOptions,
    *,
    max_bytes: int,
    max_retries: int = 0,
    concurrency: int = 4,
) -> list[ItemResult]:
    """Every source's result, in the order given; `concurrency` sources in flight at once."""
    limit = asyncio.Semaphore(concurrency)
    transcribe = engine_transcriber(engine, options)
    s3 = S3Store()  # connects on the first s3:// source only

    async def guarded(source: str, client: httpx.AsyncClient) -> ItemResult:
        async with limit:
            return await transcribe_one(source, transcribe, client, max_bytes, max_retries, s3=s3)

    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        results = await asyncio.gather(*(guarded(source, client) for source in sources))
    return list(results)
