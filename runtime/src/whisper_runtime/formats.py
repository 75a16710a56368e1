"""Response formats of OpenAI's audio API: json, text, srt, vtt, verbose_json."""

from __future__ import annotations

from typing import Any, Literal

from .transcript import Segment, Transcript

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = ("json", "text", "srt", "vtt", "verbose_json")
TimestampGranularity = Literal["segment", "word"]

MEDIA_TYPES: dict[ResponseFormat, str] = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def timestamp(seconds: float, decimal_marker: str, always_hours: bool) -> str:
    """00:01:02,345 (SRT) or 00:01:02.345 / 01:02.345 (VTT)."""
    milliseconds = max(0, round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    hours_part = f"{hours:02d}:" if always_hours or hours else ""
    return f"{hours_part}{minutes:02d}:{secs:02d}{decimal_marker}{milliseconds:03d}"


def to_srt(segments: tuple[Segment, ...]) -> str:
    blocks = [
        f"{index}\n{timestamp(s.start, ',', True)} --> {timestamp(s.end, ',', True)}\n"
        f"{s.text.strip()}\n"
        for index, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: tuple[Segment, ...]) -> str:
    blocks = [
        f"{timestamp(s.start, '.', True)} --> {timestamp(s.end, '.', True)}\n{s.text.strip()}\n"
        for s in segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_verbose_json(
    transcript: Transcript, granularities: frozenset[TimestampGranularity]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": transcript.task,
        "language": language_name(transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in transcript.segments
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end} for w in transcript.words
        ]
    return body


def render(
    transcript: Transcript,
    response_format: ResponseFormat,
    granularities: frozenset[TimestampGranularity] = frozenset(),
) -> str | dict[str, Any]:
    """The response body: a dict for the JSON formats, text for the others."""
    if response_format == "json":
        return {"text": transcript.text}
    if response_format == "verbose_json":
        return to_verbose_json(transcript, granularities)
    if response_format == "text":
        return transcript.text + "\n"
    if response_format == "srt":
        return to_srt(transcript.segments)
    return to_vtt(transcript.segments)


# OpenAI's verbose_json names the language in English words ("english"), not its code.
_LANGUAGE_NAMES = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "pl": "polish", "ru": "russian", "uk": "ukrainian",
    "zh": "chinese", "ja": "japanese", "ko": "korean", "ar": "arabic", "hi": "hindi",
    "tr": "turkish", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish",
    "cs": "czech", "el": "greek", "he": "hebrew", "hu": "hungarian", "ro": "romanian",
    "id": "indonesian", "vi": "vietnamese", "th": "thai", "ca": "catalan", "ms": "malay",
}  # fmt: skip


LANGUAGE_CODES = {name: code for code, name in _LANGUAGE_NAMES.items()}


def language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code, code)
