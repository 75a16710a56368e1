"""Audio decoding: any container PyAV's bundled FFmpeg reads, to 16 kHz mono float32.

The samples equal faster-whisper's `decode_audio` (s16 resampling, then /32768), so a
transcript here equals one made by faster-whisper from the same file. Unlike it, this does
not run `gc.collect()` on every call, which costs ~0.3 s per file in a large server process.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000

Audio = npt.NDArray[np.float32]


class AudioDecodeError(ValueError):
    """The bytes are not audio that can be decoded."""


def decode_audio(source: bytes | str | Path | BinaryIO) -> Audio:
    """Decode the first audio stream of `source` to 16 kHz mono float32 samples."""
    if isinstance(source, bytes | bytearray):
        if not source:
            raise AudioDecodeError("the file is empty")
        source = io.BytesIO(source)
    elif isinstance(source, Path):
        source = str(source)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pcm = io.BytesIO()
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            for frame in _valid_frames(container.decode(audio=0)):
                for resampled in resampler.resample(frame):
                    pcm.write(resampled.to_ndarray().tobytes())
            for resampled in resampler.resample(None):  # flush what the resampler holds
                pcm.write(resampled.to_ndarray().tobytes())
    except AudioDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as error:
        raise AudioDecodeError(f"the file could not be decoded as audio: {error}") from error
    samples = np.frombuffer(pcm.getbuffer(), dtype=np.int16)
    if samples.size == 0:
        raise AudioDecodeError("the file holds no audio samples")
    return samples.astype(np.float32) / 32768.0


def _valid_frames(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Skip frames FFmpeg reports as invalid, as faster-whisper does (a damaged frame in
    the middle of a long call loses a few milliseconds, not the call)."""
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def duration_seconds(audio: Audio) -> float:
    return float(audio.shape[0]) / SAMPLE_RATE
