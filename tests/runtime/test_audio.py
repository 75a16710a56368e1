from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.audio import decode_audio as faster_whisper_decode

from tests.containers import CONTAINERS, encode
from tests.speech import Clip
from whisper_runtime.audio import SAMPLE_RATE, AudioDecodeError, decode_audio, duration_seconds


def test_wav_decodes_to_the_same_samples_as_faster_whisper(clips: list[Clip]) -> None:
    for clip in clips[:3]:
        ours = decode_audio(clip.data)
        theirs = faster_whisper_decode(str(clip.path))
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("extension", sorted(CONTAINERS))
def test_common_containers_decode(clips: list[Clip], extension: str) -> None:
    original = decode_audio(clips[0].data)
    data = encode(original, extension)
    decoded = decode_audio(data)
    # Lossy codecs and their padding change the length a little, never the duration much.
    assert abs(duration_seconds(decoded) - duration_seconds(original)) < 0.15
    assert float(np.abs(decoded).max()) > 0.05  # speech survived, not silence


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not audio at all" * 40, "could not be decoded"),
        (bytes(range(256)) * 64, "could not be decoded"),
    ],
)
def test_undecodable_input_raises_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(AudioDecodeError, match=message):
        decode_audio(data)


def test_a_file_without_audio_stream_is_refused() -> None:
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="matroska") as container:
        stream = container.add_stream("rawvideo", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), dtype=np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        decode_audio(buffer.getvalue())


def test_sample_rate_is_16k(clips: list[Clip]) -> None:
    audio = decode_audio(clips[0].path)
    assert audio.shape[0] == pytest.approx(4.0 * SAMPLE_RATE, rel=0.5)
