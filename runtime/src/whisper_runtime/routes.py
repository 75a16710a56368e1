"""HTTP routes: parse form fields, call the engine, format the response. No model code."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from faster_whisper.tokenizer import _LANGUAGE_CODES
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .audio import AudioDecodeError, decode_audio
from .deps import Authorized, State
from .errors import InvalidAudioError, InvalidRequestError, RuntimeAPIError, envelope
from .formats import MEDIA_TYPES, RESPONSE_FORMATS, ResponseFormat, TimestampGranularity, render
from .options import DecodeOptions
from .state import RuntimeState
from .transcript import Task

router = APIRouter()
audio_router = APIRouter(prefix="/v1", dependencies=[Authorized])

# Model names OpenAI clients send; every one of them means "the model this server serves".
_OPENAI_MODEL_NAMES = frozenset({"whisper-1"})


def _check_model(state: RuntimeState, model: str) -> None:
    accepted = _OPENAI_MODEL_NAMES | {state.model_id, state.settings.model}
    if model not in accepted:
        raise InvalidRequestError(
            f"this server serves the model '{state.model_id}'; send model='{state.model_id}' "
            "or model='whisper-1'",
            param="model",
        )


@dataclass(frozen=True)
class DecodingForm:
    """The decoding fields every audio endpoint takes (multipart form fields)."""

    model: str
    language: str | None
    prompt: str | None
    response_format: str
    temperature: float | None
    timestamp_granularities: list[str] | None
    beam_size: int | None
    vad_filter: bool | None


def decoding_form(
    model: Annotated[str, Form()] = "whisper-1",
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[str, Form()] = "json",
    temperature: Annotated[float | None, Form()] = None,
    timestamp_granularities: Annotated[
        list[str] | None, Form(alias="timestamp_granularities[]")
    ] = None,
    beam_size: Annotated[int | None, Form()] = None,
    vad_filter: Annotated[bool | None, Form()] = None,
) -> DecodingForm:
    return DecodingForm(
        model, language, prompt, response_format, temperature, timestamp_granularities,
        beam_size, vad_filter,
    )  # fmt: skip


Decoding = Annotated[DecodingForm, Depends(decoding_form)]


def build_options(
    state: RuntimeState, task: Task, form: DecodingForm
) -> tuple[DecodeOptions, ResponseFormat, frozenset[TimestampGranularity]]:
    """Check the request's fields and turn them into decoding options."""
    _check_model(state, form.model)
    response_format, temperature, beam_size = form.response_format, form.temperature, form.beam_size
    # Translations are always to English, from whatever language is spoken.
    language = form.language if task == "transcribe" else None
    granularities = form.timestamp_granularities if task == "transcribe" else None
    if response_format not in RESPONSE_FORMATS:
        raise InvalidRequestError(
            f"response_format '{response_format}' is not one of {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise InvalidRequestError("temperature must be between 0 and 1", param="temperature")
    if beam_size is not None and not 1 <= beam_size <= 20:
        raise InvalidRequestError("beam_size must be between 1 and 20", param="beam_size")
    chosen: set[TimestampGranularity] = set()
    for item in granularities or []:
        if item not in ("segment", "word"):
            raise InvalidRequestError(
                f"timestamp_granularities[] '{item}' is not 'segment' or 'word'",
                param="timestamp_granularities",
            )
        chosen.add("word" if item == "word" else "segment")
    if chosen and response_format != "verbose_json":
        raise InvalidRequestError(
            "timestamp_granularities needs response_format=verbose_json",
            param="timestamp_granularities",
        )
    language = (language or "").strip().lower() or None
    engine = state.ready_engine()
    if language is not None:
        if language not in _LANGUAGE_CODES:
            raise InvalidRequestError(
                f"language '{language}' is not an ISO-639-1 code Whisper knows (e.g. 'en', 'de')",
                param="language",
            )
        if not engine.is_multilingual and language != "en":
            raise InvalidRequestError(
                f"the model '{state.model_id}' is English-only and cannot transcribe "
                f"'{language}'; serve a multilingual model (e.g. 'small') for other languages",
                param="language",
            )
    if task == "translate" and not engine.is_multilingual:
        raise InvalidRequestError(
            f"the model '{state.model_id}' is English-only and cannot translate; serve a "
            "multilingual model (e.g. 'small') for translations",
            param="model",
        )
    options = DecodeOptions(
        language=language,
        task=task,
        prompt=form.prompt or None,
        temperature=temperature,
        beam_size=beam_size or state.settings.beam_size,
        vad=state.settings.vad if form.vad_filter is None else form.vad_filter,
        word_timestamps="word" in chosen,
    )
    return options, response_format, frozenset(chosen)


async def _transcribe_upload(
    state: RuntimeState, upload: UploadFile, options: DecodeOptions
) -> Any:
    data = await upload.read()
    try:
        audio = await asyncio.to_thread(decode_audio, data)
    except AudioDecodeError as error:
        state.metrics.errors.labels(kind="invalid_audio").inc()
        raise InvalidAudioError(
            f"{upload.filename or 'file'}: {error}; send audio such as wav, mp3, m4a, ogg, "
            "flac or webm",
            param="file",
        ) from error
    return await state.ready_engine().transcribe(audio, options)


def _respond(body: str | dict[str, Any], response_format: ResponseFormat) -> Response:
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=MEDIA_TYPES[response_format])


Upload = Annotated[UploadFile, File(description="audio file")]


@audio_router.post("/audio/transcriptions", summary="Transcribe audio (OpenAI-compatible)")
async def create_transcription(state: State, file: Upload, form: Decoding) -> Response:
    options, fmt, chosen = build_options(state, "transcribe", form)
    transcript = await _transcribe_upload(state, file, options)
    return _respond(render(transcript, fmt, chosen), fmt)


@audio_router.post("/audio/translations", summary="Translate audio to English text")
async def create_translation(state: State, file: Upload, form: Decoding) -> Response:
    options, fmt, chosen = build_options(state, "translate", form)
    transcript = await _transcribe_upload(state, file, options)
    return _respond(render(transcript, fmt, chosen), fmt)


@audio_router.post(
    "/audio/transcriptions_batch", summary="Transcribe several files; one result per file"
)
async def create_transcription_batch(
    state: State,
    file: Annotated[list[UploadFile], File(description="audio files")],
    form: Decoding,
) -> Response:
    if len(file) > state.settings.max_batch_files:
        raise InvalidRequestError(
            f"{len(file)} files is more than this server's limit of "
            f"{state.settings.max_batch_files} per batch (WHISPER_MAX_BATCH_FILES)",
            param="file",
        )
    options, fmt, chosen = build_options(state, "transcribe", form)

    async def one(index: int, upload: UploadFile) -> dict[str, Any]:
        item: dict[str, Any] = {"index": index, "filename": upload.filename}
        try:
            transcript = await _transcribe_upload(state, upload, options)
        except RuntimeAPIError as error:
            item.update(status=error.status_code, **envelope(error))
        else:
            item.update(status=200, response=render(transcript, fmt, chosen))
        return item

    results = await asyncio.gather(*(one(i, upload) for i, upload in enumerate(file)))
    return JSONResponse({"object": "list", "data": list(results)})


@audio_router.get("/models", summary="The model this server serves")
async def list_models(state: State) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": state.model_id,
                "object": "model",
                "created": state.created,
                "owned_by": "whisper-prod",
            }
        ],
    }


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the model is loaded and has answered")
async def readyz(state: State) -> Response:
    if state.engine is None:
        reason = state.load_error or "loading model"
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "model": state.model_id})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def now() -> int:
    return int(time.time())
