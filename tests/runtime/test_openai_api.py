"""The HTTP API driven by the official openai client, in process, with the real tiny.en."""

from __future__ import annotations

import re

import openai
import pytest
from fastapi import FastAPI

from tests.containers import encode
from tests.runtime.conftest import http_client, openai_client, running_app
from tests.speech import Clip, word_error_rate
from whisper_runtime.audio import decode_audio

pytestmark = pytest.mark.api

SRT_BLOCK = re.compile(r"^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n", re.M)
VTT_CUE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n.+$", re.M)


async def test_json_format(client: openai.AsyncOpenAI, clips: list[Clip]) -> None:
    clip = clips[1]
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=(clip.path.name, clip.data)
    )
    assert word_error_rate([clip.text], [result.text]) <= 0.15


async def test_text_srt_vtt_formats(client: openai.AsyncOpenAI, clips: list[Clip]) -> None:
    clip = clips[3]
    text = await client.audio.transcriptions.create(
        model="whisper-1", file=(clip.path.name, clip.data), response_format="text"
    )
    assert isinstance(text, str)
    assert word_error_rate([clip.text], [text]) <= 0.15
    srt = await client.audio.transcriptions.create(
        model="whisper-1", file=(clip.path.name, clip.data), response_format="srt"
    )
    assert isinstance(srt, str)
    assert SRT_BLOCK.match(srt), srt
    assert srt.startswith("1\n00:00:00,000 --> ")
    vtt = await client.audio.transcriptions.create(
        model="whisper-1", file=(clip.path.name, clip.data), response_format="vtt"
    )
    assert isinstance(vtt, str)
    assert vtt.startswith("WEBVTT\n\n")
    assert VTT_CUE.search(vtt), vtt


async def test_verbose_json_with_segments_and_words(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    clip = clips[0]
    duration = decode_audio(clip.data).shape[0] / 16000
    result = await client.audio.transcriptions.create(
        model="whisper-1",
        file=(clip.path.name, clip.data),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "english"
    assert result.duration == pytest.approx(duration, abs=0.01)
    assert result.segments
    assert result.words
    words = [w.word.lower().strip(".,?") for w in result.words]
    assert "calling" in words
    assert "help" in words
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= duration + 0.5 for w in result.words)
    segment = result.segments[0]
    assert 0 <= segment.start < segment.end
    assert segment.text.strip()
    assert segment.tokens


async def test_prompt_and_temperature_are_accepted(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    clip = clips[2]
    result = await client.audio.transcriptions.create(
        model="whisper-1",
        file=(clip.path.name, clip.data),
        prompt="A sales call about contracts.",
        temperature=0.0,
        language="en",
    )
    assert "contract" in result.text.lower()


@pytest.mark.parametrize("extension", ["mp3", "m4a", "ogg", "flac", "webm"])
async def test_compressed_containers(
    client: openai.AsyncOpenAI, clips: list[Clip], extension: str
) -> None:
    clip = clips[5]
    data = encode(decode_audio(clip.data), extension)
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=(f"call.{extension}", data)
    )
    assert word_error_rate([clip.text], [result.text]) <= 0.2


async def test_models_health_ready(tiny_app: FastAPI, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [tiny_app.state.runtime.model_id]
    async with http_client(tiny_app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"


# --- error paths ------------------------------------------------------------------------


async def test_corrupt_audio_is_a_400_in_openai_envelope(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(
            model="whisper-1", file=("broken.wav", b"RIFF\x00\x00garbage" * 50)
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "file"
    assert error["code"] == "invalid_audio"
    assert "broken.wav" in error["message"]


async def test_unknown_response_format_is_a_400(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(
            model="whisper-1",
            file=("a.wav", clips[0].data),
            response_format="xml",  # type: ignore[arg-type]
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "response_format"
    assert "json" in caught.value.body["message"]


async def test_missing_file_is_a_400(tiny_app: FastAPI) -> None:
    async with http_client(tiny_app) as http:
        response = await http.post("/v1/audio/transcriptions", data={"model": "whisper-1"})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["param"] == "file"
    assert "'file' is required" in body["message"]


async def test_oversize_upload_is_a_413(client: openai.AsyncOpenAI) -> None:
    # The test app caps uploads at 1 MiB.
    with pytest.raises(openai.APIStatusError) as caught:
        await client.audio.transcriptions.create(
            model="whisper-1", file=("big.wav", b"\x00" * (2 * 1024 * 1024))
        )
    assert caught.value.status_code == 413
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "file_too_large"
    assert "1 MiB" in caught.value.body["message"]


async def test_oversize_upload_without_content_length_is_a_413(tiny_app: FastAPI) -> None:
    boundary = "b0undary"

    async def body():  # type: ignore[no-untyped-def]
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB, streamed in chunks
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    async with http_client(tiny_app) as http:
        response = await http.post(
            "/v1/audio/transcriptions",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


async def test_wrong_model_and_language_are_400(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    with pytest.raises(openai.BadRequestError, match="serves the model"):
        await client.audio.transcriptions.create(model="large-v9", file=("a.wav", clips[0].data))
    with pytest.raises(openai.BadRequestError, match="English-only"):
        await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", clips[0].data), language="de"
        )
    with pytest.raises(openai.BadRequestError, match="ISO-639-1"):
        await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", clips[0].data), language="klingon"
        )
    with pytest.raises(openai.BadRequestError, match="cannot translate"):
        await client.audio.translations.create(model="whisper-1", file=("a.wav", clips[0].data))


async def test_unknown_route_uses_the_envelope(tiny_app: FastAPI) -> None:
    async with http_client(tiny_app) as http:
        response = await http.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- API keys -------------------------------------------------------------------------------


async def test_api_keys(tiny_app: FastAPI, clips: list[Clip]) -> None:
    runtime = tiny_app.state.runtime
    async with running_app(
        runtime.settings.model, runtime.engine, api_keys="key-one, key-two"
    ) as secured:
        async with openai_client(secured, api_key="key-two") as good:
            result = await good.audio.transcriptions.create(
                model="whisper-1", file=("a.wav", clips[0].data)
            )
            assert "calling" in result.text.lower()
        async with openai_client(secured, api_key="key-three") as wrong:
            with pytest.raises(openai.AuthenticationError) as caught:
                await wrong.models.list()
            assert isinstance(caught.value.body, dict)
            assert caught.value.body["code"] == "invalid_api_key"
        async with http_client(secured) as http:
            missing = await http.get("/v1/models")
            assert missing.status_code == 401
            assert "Authorization: Bearer" in missing.json()["error"]["message"]
            # Probes and metrics stay open: the kubelet and Prometheus carry no key.
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/metrics")).status_code == 200


# --- batch endpoint -------------------------------------------------------------------------


async def test_batch_endpoint_one_result_per_file(tiny_app: FastAPI, clips: list[Clip]) -> None:
    files = [
        ("file", ("one.wav", clips[0].data, "audio/wav")),
        ("file", ("broken.wav", b"not audio" * 100, "audio/wav")),
        ("file", ("three.wav", clips[2].data, "audio/wav")),
    ]
    async with http_client(tiny_app) as http:
        response = await http.post(
            "/v1/audio/transcriptions_batch", files=files, data={"model": "whisper-1"}
        )
    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["filename"] for item in data] == ["one.wav", "broken.wav", "three.wav"]
    assert [item["status"] for item in data] == [200, 400, 200]
    assert word_error_rate([clips[0].text], [data[0]["response"]["text"]]) <= 0.15
    assert data[1]["error"]["code"] == "invalid_audio"
    assert word_error_rate([clips[2].text], [data[2]["response"]["text"]]) <= 0.2


# --- metrics --------------------------------------------------------------------------------


async def test_metrics_count_requests_audio_and_errors(
    tiny_app: FastAPI, client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    await client.audio.transcriptions.create(model="whisper-1", file=("a.wav", clips[4].data))
    async with http_client(tiny_app) as http:
        text = (await http.get("/metrics")).text
    assert re.search(
        r'whisper_requests_total\{endpoint="/v1/audio/transcriptions",status="200"\} [1-9]', text
    )
    assert re.search(r"whisper_audio_seconds_total [1-9]", text)
    assert re.search(
        r'whisper_request_duration_seconds_count\{endpoint="/v1/audio/transcriptions"\}', text
    )
    assert re.search(r"whisper_inference_duration_seconds_count [1-9]", text)
    assert re.search(r"whisper_batch_size_count [1-9]", text)
    for name in ("whisper_queue_depth", "whisper_requests_in_flight", "whisper_model_load_seconds"):
        assert name in text
    assert re.search(r'whisper_errors_total\{kind="invalid_audio"\} [1-9]', text)


# --- multilingual model: language detection and translation ---------------------------------


@pytest.mark.slow
async def test_language_detection_and_translation(base_app: FastAPI, german_clip: Clip) -> None:
    async with openai_client(base_app) as client:
        detected = await client.audio.transcriptions.create(
            model="whisper-1", file=("de.wav", german_clip.data), response_format="verbose_json"
        )
        assert detected.language == "german"
        assert "morgen" in detected.text.lower()
        translated = await client.audio.translations.create(
            model="whisper-1", file=("de.wav", german_clip.data)
        )
    english = translated.text.lower()
    assert "morning" in english or "appointment" in english, english
    assert "morgen" not in english


async def test_srt_and_segment_times_follow_the_audio(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    import io
    import wave

    import numpy as np

    first, second = decode_audio(clips[0].data), decode_audio(clips[3].data)
    gap = np.zeros(3 * 16000, dtype=np.float32)
    audio = np.concatenate([first, gap, second])
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes((audio * 32767).astype(np.int16).tobytes())
    second_starts = (first.shape[0] + gap.shape[0]) / 16000
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("two.wav", buffer.getvalue()), response_format="verbose_json",
        timestamp_granularities=["word"],
    )  # fmt: skip
    price = next(w for w in result.words or [] if w.word.lower().startswith("price"))
    customer = next(w for w in result.words or [] if w.word.lower().startswith("customer"))
    # "The customer asked about the price": the second clip's words sit after the gap.
    assert second_starts - 0.5 <= customer.start <= price.start <= second_starts + 4.0
    assert all(w.end <= audio.shape[0] / 16000 + 0.5 for w in result.words or [])
    srt = await client.audio.transcriptions.create(
        model="whisper-1", file=("two.wav", buffer.getvalue()), response_format="srt"
    )
    cues = [block.split("\n") for block in str(srt).strip().split("\n\n")]
    assert [cue[0] for cue in cues] == [str(i) for i in range(1, len(cues) + 1)]
    last_start = cues[-1][1].split(" --> ")[0]
    hours, minutes, rest = last_start.split(":")
    seconds = int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))
    assert second_starts - 1.5 <= seconds <= second_starts + 1.0, srt


async def test_vad_filter_keeps_speech_and_its_times(
    client: openai.AsyncOpenAI, clips: list[Clip]
) -> None:
    import numpy as np

    silence = np.zeros(5 * 16000, dtype=np.float32)
    audio = np.concatenate([silence, decode_audio(clips[1].data)])
    from tests.containers import encode as encode_audio

    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("quiet.flac", encode_audio(audio, "flac")),
        response_format="verbose_json", extra_body={"vad_filter": "true"},
    )  # fmt: skip
    assert word_error_rate([clips[1].text], [result.text]) <= 0.15
    assert result.segments
    assert result.segments[0].start >= 4.5  # times are in the original audio, not the cut one
