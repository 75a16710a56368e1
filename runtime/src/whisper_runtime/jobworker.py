"""The worker of a TranscriptionJob: one shard of its inputs, results into its status.

Run by the operator's Indexed Job as `whisper-runtime batch --transcription-job NAME
--shards N`; the shard is JOB_COMPLETION_INDEX. The worker reads the job's spec, takes every
N-th input, skips those a previous run already finished, and after each input applies its
results to the job's status with server-side apply under a field manager of its own
(`whisper-worker-<shard>`): `status.results` is a list-map keyed by input, so concurrent
workers never overwrite each other. Full transcripts go to the output PVC when one is set.
"""

from __future__ import annotations

import asyncio
import base64
import glob
import hashlib
import itertools
import json
import logging
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from .engine import build_engine
from .errors import FetchError, RuntimeAPIError
from .formats import LANGUAGE_CODES, ResponseFormat, render, to_verbose_json
from .metrics import Metrics
from .options import DecodeOptions
from .s3 import S3Location, S3Store
from .settings import RuntimeSettings
from .transcript import Segment, Transcript, Word
from .worker import ItemResult, Transcriber, engine_transcriber, transcribe_one

log = logging.getLogger(__name__)
GROUP, VERSION, PLURAL = "whisperprod.io", "v1alpha1", "transcriptionjobs"


@dataclass(frozen=True)
class Source:
    key: str  # the input's name in status.results
    locator: str  # where the worker reads it: a URL or a path inside the pod
    problem: str | None = None  # why it fails without being read (an unlistable prefix)


def expand_inputs(
    inputs: list[dict[str, Any]], inputs_root: Path, s3: S3Store | None = None
) -> list[Source]:
    """The job's inputs as sources: pvc globs expanded against their mounted claims, s3
    prefixes (ending in /) listed; a glob that matches nothing, or a prefix that cannot be
    listed or holds nothing, becomes one source that fails with the reason."""
    sources: list[Source] = []
    for item in inputs:
        if item.get("url"):
            sources.append(Source(item["url"], item["url"]))
        elif item.get("s3"):
            if S3Location.parse(item["s3"]).is_prefix:
                try:
                    listed = (s3 or S3Store()).list(item["s3"])
                except FetchError as error:
                    listed, problem = [], str(error)
                else:
                    problem = f"no objects under {item['s3']}"
                sources += [Source(url, url) for url in listed]
                if not listed:  # the prefix itself fails, so a wrong one is not a silent 0
                    sources.append(Source(item["s3"], item["s3"], problem))
            else:
                sources.append(Source(item["s3"], item["s3"]))
        elif item.get("pvc"):
            claim, pattern = item["pvc"]["claimName"], item["pvc"]["path"].lstrip("/")
            base = inputs_root / claim
            if any(ch in pattern for ch in "*?["):
                matches = sorted(Path(p) for p in glob.glob(str(base / pattern), recursive=True))
                files = [path for path in matches if path.is_file()]
                for path in files:
                    relative = path.relative_to(base).as_posix()
                    sources.append(Source(f"pvc://{claim}/{relative}", str(path)))
                if not files:  # as with an empty s3 prefix: the pattern fails, visibly
                    key = f"pvc://{claim}/{pattern}"
                    sources.append(Source(key, str(base / pattern), f"no files match {key}"))
            else:
                sources.append(Source(f"pvc://{claim}/{pattern}", str(base / pattern)))
    return sources


def status_text_limit(total_inputs: int) -> int:
    """Characters of transcript kept per input in status: about 400 KB for the whole list,
    far below etcd's 1.5 MiB object limit; the full text goes to the output sink."""
    return max(200, min(4000, 400_000 // max(1, total_inputs)))


def result_entry(result: ItemResult, text_limit: int, output: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "input": result.input,
        "state": result.state,
        "attempts": result.attempts,
    }
    transcript = result.transcript
    if transcript is not None:
        text = transcript.text
        entry["text"] = text[:text_limit]
        entry["truncated"] = len(text) > text_limit
        entry["language"] = transcript.language
        entry["durationSeconds"] = round(transcript.duration, 3)
        entry["processingSeconds"] = round(transcript.processing_seconds, 3)
    if result.error:
        entry["error"] = result.error[:1000]
    if output:
        entry["output"] = output
    return entry


def output_stem(key: str) -> str:
    """A file name for an input: readable, unique, safe."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key.split("://", 1)[-1])[-80:].strip("_.")
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


OUTPUT_TYPES = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
}


def output_files(key: str, transcript: Transcript) -> dict[str, str]:
    """Extension -> content: json (verbose, with segments and words), txt, srt and vtt."""
    verbose = to_verbose_json(transcript, frozenset({"segment", "word"}))
    files = {"json": json.dumps({"input": key, **verbose}, ensure_ascii=False)}
    plain: tuple[tuple[str, ResponseFormat], ...] = (
        ("txt", "text"),
        ("srt", "srt"),
        ("vtt", "vtt"),
    )
    for extension, fmt in plain:
        files[extension] = str(render(transcript, fmt))
    return files


def write_outputs(folder: Path, key: str, transcript: Transcript) -> str:
    """The output files into a folder (the output PVC); returns the stem's path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / output_stem(key)
    for extension, content in output_files(key, transcript).items():
        stem.with_suffix(f".{extension}").write_text(content)
    return str(stem)


def upload_outputs(s3: S3Store, prefix: str, key: str, transcript: Transcript) -> str:
    """The output files under an s3:// prefix; returns the stem's URL."""
    stem = prefix.rstrip("/") + "/" + output_stem(key)
    for extension, content in output_files(key, transcript).items():
        s3.write(f"{stem}.{extension}", content.encode(), OUTPUT_TYPES[extension])
    return stem


def transcript_from_verbose_json(body: dict[str, Any], task: str, seconds: float) -> Transcript:
    words = [
        Word(float(w["start"]), float(w["end"]), " " + w["word"], 1.0)
        for w in body.get("words") or []
    ]
    segments = tuple(
        Segment(
            id=int(s["id"]),
            seek=int(s.get("seek", 0)),
            start=float(s["start"]),
            end=float(s["end"]),
            text=s["text"],
            tokens=tuple(s.get("tokens") or ()),
            temperature=float(s.get("temperature") or 0),
            avg_logprob=float(s.get("avg_logprob") or 0),
            compression_ratio=float(s.get("compression_ratio") or 0),
            no_speech_prob=float(s.get("no_speech_prob") or 0),
            words=tuple(w for w in words if s["start"] <= w.start < s["end"]) or None,
        )
        for s in body.get("segments") or []
    )
    language = LANGUAGE_CODES.get(str(body.get("language", "")), str(body.get("language", "")))
    return Transcript(
        language=language, language_probability=1.0, duration=float(body.get("duration") or 0),
        segments=segments, task="translate" if task == "translate" else "transcribe",
        processing_seconds=seconds,
    )  # fmt: skip


class PoolTranscriber:
    """Sends audio to a WhisperPool's ready pods (from its EndpointSlices), round-robin."""

    def __init__(self, kube: Any, namespace: str, pool: str, spec: dict[str, Any]) -> None:
        self.kube = kube
        self.namespace = namespace
        self.pool = pool
        self.spec = spec
        self._endpoints: list[str] = []
        self._cycle: itertools.cycle[str] | None = None
        self._headers: dict[str, str] | None = None

    def headers(self) -> dict[str, str]:
        """An Authorization header when the pool requires API keys (its first key)."""
        if self._headers is None:
            from kubernetes import client

            pool = client.CustomObjectsApi(self.kube).get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "whisperpools", self.pool
            )
            ref = (dict(pool).get("spec") or {}).get("apiKeySecretRef")  # type: ignore[call-overload]
            self._headers = {}
            if ref:
                secret = client.CoreV1Api(self.kube).read_namespaced_secret(
                    ref["name"], self.namespace
                )
                encoded = (secret.data or {}).get(ref.get("key", "api-keys"), "")
                keys = [
                    k.strip() for k in base64.b64decode(encoded).decode().split(",") if k.strip()
                ]
                if keys:
                    self._headers = {"Authorization": f"Bearer {keys[0]}"}
        return self._headers

    def refresh(self) -> list[str]:
        from kubernetes import client

        api = client.DiscoveryV1Api(self.kube)
        slices = api.list_namespaced_endpoint_slice(
            self.namespace, label_selector=f"kubernetes.io/service-name={self.pool}"
        )
        endpoints = []
        for item in slices.items:
            port = next((p.port for p in item.ports or [] if p.name == "http"), None)
            for endpoint in item.endpoints or []:
                if port and endpoint.conditions and endpoint.conditions.ready:
                    endpoints += [f"http://{address}:{port}" for address in endpoint.addresses]
        self._endpoints = sorted(endpoints)
        self._cycle = itertools.cycle(self._endpoints) if self._endpoints else None
        return self._endpoints

    async def next_endpoint(self) -> str:
        for _ in range(60):
            if self._cycle is None:
                await asyncio.to_thread(self.refresh)
            if self._cycle is not None:
                return next(self._cycle)
            await asyncio.sleep(5)
        raise RuntimeAPIError(f"WhisperPool {self.pool} has no ready endpoint")

    def transcriber(self, client: httpx.AsyncClient) -> Transcriber:
        spec = self.spec
        task = spec.get("task", "transcribe")
        path = "/v1/audio/translations" if task == "translate" else "/v1/audio/transcriptions"
        form: dict[str, str] = {"model": "whisper-1", "response_format": "verbose_json"}
        fields_of_spec = (
            ("language", "language"),
            ("prompt", "prompt"),
            ("temperature", "temperature"),
            ("beamSize", "beam_size"),
            ("vad", "vad_filter"),
        )
        for field, name in fields_of_spec:
            if spec.get(field) is not None:
                form[name] = (
                    str(spec[field]).lower() if isinstance(spec[field], bool) else str(spec[field])
                )
        if task == "translate":
            form.pop("language", None)
        wants_words = bool(spec.get("wordTimestamps"))

        async def transcribe(data: bytes, name: str) -> Transcript:
            endpoint = await self.next_endpoint()
            headers = await asyncio.to_thread(self.headers)
            started = time.perf_counter()
            fields: dict[str, str | list[str]] = dict(form)
            if wants_words:
                fields["timestamp_granularities[]"] = ["segment", "word"]
            try:
                response = await client.post(
                    f"{endpoint}{path}",
                    data=fields,
                    files={"file": (name or "audio", data)},
                    headers=headers,
                )
            except httpx.TransportError:
                self._cycle = None  # the pod went away: look again next time
                raise
            if response.status_code == 400:
                from .errors import InvalidAudioError

                raise InvalidAudioError(
                    response.json().get("error", {}).get("message", response.text)
                )
            if response.status_code != 200:
                raise RuntimeAPIError(
                    f"pool {self.pool} answered HTTP {response.status_code}: {response.text[:200]}"
                )
            return transcript_from_verbose_json(
                response.json(), task, time.perf_counter() - started
            )

        return transcribe


def decode_options(spec: dict[str, Any]) -> DecodeOptions:
    return DecodeOptions(
        language=spec.get("language") or None,
        task="translate" if spec.get("task") == "translate" else "transcribe",
        prompt=spec.get("prompt") or None,
        temperature=spec.get("temperature"),
        beam_size=int(spec.get("beamSize", 5)),
        vad=bool(spec.get("vad", False)),
        word_timestamps=bool(spec.get("wordTimestamps", False)),
    )


def connect() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


class StatusWriter:
    """Applies this worker's results to the job's status (server-side apply)."""

    def __init__(self, kube: Any, namespace: str, name: str, shard: int) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(kube)
        self.namespace = namespace
        self.name = name
        self.manager = f"whisper-worker-{shard}"
        self.lock = asyncio.Lock()

    async def apply(self, entries: list[dict[str, Any]]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "TranscriptionJob",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "status": {"results": entries},
        }
        async with self.lock:
            await asyncio.to_thread(
                self.api.patch_namespaced_custom_object_status,
                GROUP, VERSION, self.namespace, PLURAL, self.name, body,
                field_manager=self.manager, force=True,
                _content_type="application/apply-patch+yaml",
            )  # fmt: skip


async def run_job_worker(
    name: str,
    namespace: str,
    shard: int,
    shards: int,
    settings: RuntimeSettings,
    inputs_root: Path,
    output_root: Path,
) -> int:
    from kubernetes import client

    kube = connect()
    api = client.CustomObjectsApi(kube)
    found = await asyncio.to_thread(
        api.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name
    )
    job: dict[str, Any] = dict(found)  # type: ignore[call-overload]
    spec = job["spec"]
    s3 = S3Store()  # connects on the first s3:// input or output only
    sources = await asyncio.to_thread(expand_inputs, spec["inputs"], inputs_root, s3)
    mine = [source for index, source in enumerate(sources) if index % shards == shard]
    max_retries = int(spec.get("maxRetries", 2))
    previous = {r["input"]: r for r in (job.get("status") or {}).get("results") or []}
    keys = {source.key for source in mine}
    # Results this shard already wrote stay in every apply (omitting them would remove them).
    results: dict[str, dict[str, Any]] = {k: v for k, v in previous.items() if k in keys}
    todo = [s for s in mine if s.key not in results]
    log.info(
        "worker starting",
        extra={
            "job": name,
            "shard": shard,
            "shards": shards,
            "inputs": len(mine),
            "todo": len(todo),
        },
    )
    writer = StatusWriter(kube, namespace, name, shard)
    limit = status_text_limit(len(sources))
    output_pvc = (spec.get("output") or {}).get("pvc")
    output_dir = output_root / output_pvc.get("path", "transcripts") if output_pvc else None
    output_s3 = (spec.get("output") or {}).get("s3")
    engine = None
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0)) as http:
        if spec.get("poolRef"):
            pool = PoolTranscriber(kube, namespace, spec["poolRef"]["name"], spec)
            transcribe, concurrency = pool.transcriber(http), 4
        else:
            engine = await asyncio.to_thread(build_engine, settings, Metrics())
            transcribe = engine_transcriber(engine, decode_options(spec))
            concurrency = 2 * settings.resolved_workers
        semaphore = asyncio.Semaphore(concurrency)

        async def one(source: Source) -> None:
            async with semaphore:
                if source.problem:
                    result = ItemResult(source.key, "Failed", error=source.problem)
                else:
                    result = await transcribe_one(
                        source.key, transcribe, http, settings.max_upload_bytes,
                        max_retries, source.locator, s3,
                    )  # fmt: skip
            output = None
            try:
                if output_dir is not None and result.transcript is not None:
                    output = await asyncio.to_thread(
                        write_outputs, output_dir, source.key, result.transcript
                    )
                if output_s3 and result.transcript is not None:
                    output = await asyncio.to_thread(
                        upload_outputs, s3, output_s3, source.key, result.transcript
                    )
            except Exception as error:  # the transcript exists; its item fails, not the job
                log.exception("writing outputs failed", extra={"input": source.key})
                result = replace(
                    result, state="Failed", error=f"writing the output failed: {error}"
                )
            results[source.key] = result_entry(result, limit, output)
            log.info(
                "input done",
                extra={"input": source.key, "state": result.state, "error": result.error},
            )
            await writer.apply(sorted(results.values(), key=lambda r: str(r["input"])))

        try:
            await asyncio.gather(*(one(source) for source in todo))
            if not todo and mine:
                await writer.apply(sorted(results.values(), key=lambda r: str(r["input"])))
        finally:
            if engine is not None:
                engine.close()
    return 0
