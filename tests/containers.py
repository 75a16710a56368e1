"""Re-encode a clip into other containers with PyAV, so tests cover mp3, m4a, ogg, ..."""

from __future__ import annotations

import io

import av
import numpy as np

# container format -> (codec, sample rate the codec wants)
CONTAINERS: dict[str, tuple[str, str, int]] = {
    "mp3": ("mp3", "libmp3lame", 16000),
    "m4a": ("ipod", "aac", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "flac": ("flac", "flac", 16000),
    "webm": ("webm", "libopus", 48000),
}


def encode(samples: np.ndarray, extension: str) -> bytes:
    """Encode 16 kHz mono float32 samples into the container of `extension`."""
    container_format, codec, rate = CONTAINERS[extension]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
