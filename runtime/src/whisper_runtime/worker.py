"""The batch core: a list of audio sources in, one result (or error) per source out.

`whisper-runtime transcribe` and `whisper-runtime batch` use it, and so do the workers of a
TranscriptionJob. A source that cannot be fetched or decoded fails alone; the others go on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from .audio import AudioDecodeError, decode_audio
from .engine import Engine
from .errors import RuntimeAPIError
from .options import DecodeOptions
from .transcript import Transcript

ItemState = Literal["Succeeded", "Failed"]


class FetchError(Exception):
    """The audio could not be read from its source."""


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


async def fetch_audio(source: str, client: httpx.AsyncClient, max_bytes: int) -> bytes:
    """Read a source: an http(s) URL or a local path. Refuse more than `max_bytes`."""
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


async def transcribe_one(
    source: str,
    engine: Engine,
    options: DecodeOptions,
    client: httpx.AsyncClient,
    max_bytes: int,
    max_retries: int = 0,
) -> ItemResult:
    """Fetch, decode and transcribe one source. Fetch and engine failures are retried up
    to `max_retries` times; undecodable audio is not (it would fail the same way)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            data = await fetch_audio(source, client, max_bytes)
            audio = await asyncio.to_thread(decode_audio, data)
            transcript = await engine.transcribe(audio, options)
            return ItemResult(source, "Succeeded", transcript=transcript, attempts=attempt)
        except AudioDecodeError as error:
            return ItemResult(source, "Failed", error=f"invalid audio: {error}", attempts=attempt)
        except (FetchError, RuntimeAPIError) as error:
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

    async def guarded(source: str, client: httpx.AsyncClient) -> ItemResult:
        async with limit:
            return await transcribe_one(source, engine, options, client, max_bytes, max_retries)

    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        results = await asyncio.gather(*(guarded(source, client) for source in sources))
    return list(results)
