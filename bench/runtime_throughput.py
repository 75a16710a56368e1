"""Runtime benchmark: faster-whisper direct, the naive server and ours, side by side.

    make bench                    # tiny.en int8 on CPU: the numbers in the README
    python bench/runtime_throughput.py --device cuda --model large-v3 --clients 1 32

Every configuration transcribes the same clips (tests/fixtures/speech, repeated) with the
same decoding options (faster-whisper's defaults: beam 5, temperature fallback), in one
run, so the ratios compare like with like. Throughput is audio-seconds per wall-second;
each figure is the best of --repeats runs (the one least disturbed by the machine).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from faster_whisper import WhisperModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import english_clips  # noqa: E402
from whisper_runtime.audio import decode_audio, duration_seconds  # noqa: E402
from whisper_runtime.models import default_cache_dir, resolve_model  # noqa: E402
from whisper_runtime.settings import physical_cores  # noqa: E402


@dataclass(frozen=True)
class Workload:
    files: list[bytes]  # every request of a throughput run
    seconds: float  # their audio
    single: list[bytes]  # one copy of the clip set, sent one at a time
    single_seconds: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(command: list[str], url: str, env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                error = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{command} exited: {error}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def best_of(repeats: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeats))


def http_run(url: str, files: list[bytes], clients: int) -> float:
    """Send every file, `clients` at a time, over kept-alive connections (a client that
    opened a connection, and built an SSL context, per request would eat the cores the
    servers need)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(base_url=url, timeout=600, limits=limits) as client:

        def send(data: bytes) -> None:
            response = client.post(
                "/v1/audio/transcriptions",
                files={"file": ("clip.wav", data, "audio/wav")},
                data={"model": "whisper-1"},
            )
            response.raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(send, files))
        return time.perf_counter() - started


def transcribe(model: WhisperModel, data: bytes) -> None:
    # From the file's bytes, as a user calls it (decoding included, as in the servers).
    segments, _ = model.transcribe(io.BytesIO(data))
    list(segments)


def direct_sequential(model: WhisperModel, work: Workload, repeats: int) -> float:
    def run() -> float:
        started = time.perf_counter()
        for data in work.single:
            transcribe(model, data)
        return time.perf_counter() - started

    transcribe(model, work.single[0])
    return best_of(repeats, run)


def direct_threads(model: WhisperModel, work: Workload, threads: int, repeats: int) -> float:
    def run() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda data: transcribe(model, data), work.files))
        return time.perf_counter() - started

    transcribe(model, work.single[0])
    return best_of(repeats, run)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny.en", help="name or directory (default tiny.en)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--compute-type", default="default")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3, help="copies of the clip set per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration")
    args = parser.parse_args()

    cores = physical_cores()
    compute_type = args.compute_type
    if compute_type == "default":
        compute_type = "float16" if args.device == "cuda" else "int8"
    model_path = resolve_model(args.model, default_cache_dir())
    clips = [clip.data for clip in english_clips()]
    single_seconds = sum(duration_seconds(decode_audio(data)) for data in clips)
    work = Workload(clips * args.rounds, single_seconds * args.rounds, clips, single_seconds)
    top = max(args.clients)
    print(
        f"model {args.model} ({compute_type}) on {args.device}, {cores} cores; "
        f"{len(work.files)} requests, {work.seconds:.1f} s of audio per run; "
        f"best of {args.repeats}\n",
        flush=True,
    )
    rows: dict[str, float] = {}
    latency: dict[str, float] = {}
    load = {"device": args.device, "compute_type": compute_type}

    # faster-whisper called directly: one call at a time with every core, then its best
    # layout for concurrent callers (parallel workers of one thread each on CPU).
    seconds = direct_sequential(
        WhisperModel(model_path, **load, cpu_threads=cores), work, args.repeats
    )
    rows["faster-whisper direct, sequential"] = work.single_seconds / seconds
    latency["direct"] = seconds / len(work.single)
    workers = cores if args.device == "cpu" else 1
    threads = 1 if args.device == "cpu" else cores
    parallel = WhisperModel(model_path, **load, cpu_threads=threads, num_workers=workers)
    seconds = direct_threads(parallel, work, top, args.repeats)
    rows[f"faster-whisper direct, {workers} workers, {top} threads"] = work.seconds / seconds
    del parallel

    servers = {
        "naive server": lambda port: (
            [sys.executable, str(ROOT / "bench" / "naive_server.py"), model_path, str(port), str(cores)],
            {},
        ),
        "whisper-runtime serve": lambda port: (
            [sys.executable, "-m", "whisper_runtime.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            {"WHISPER_MODEL": model_path, "WHISPER_DEVICE": args.device, "WHISPER_LOG_LEVEL": "warning"},
        ),
    }  # fmt: skip
    for name, build in servers.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command, env = build(port)
        with server_process(command, url, env):
            http_run(url, work.single[:2], 1)  # warm up
            for clients in args.clients:
                files = work.single if clients == 1 else work.files
                audio = work.single_seconds if clients == 1 else work.seconds
                seconds = best_of(args.repeats, lambda f=files, c=clients, u=url: http_run(u, f, c))
                rows[f"{name}, {clients} client{'s' if clients > 1 else ''}"] = audio / seconds
                if clients == 1:
                    latency[name] = seconds / len(files)

    width = max(len(name) for name in rows)
    print(f"{'configuration':<{width}}  audio-s/s")
    for name, value in rows.items():
        print(f"{name:<{width}}  {value:9.1f}")
    ours = rows[f"whisper-runtime serve, {top} clients"]
    naive = rows[f"naive server, {top} clients"]
    best_direct = max(v for k, v in rows.items() if k.startswith("faster-whisper direct"))
    ours_ms, direct_ms = latency["whisper-runtime serve"] * 1000, latency["direct"] * 1000
    print()
    print(f"ours / naive server at {top} clients:  {ours / naive:5.2f}x  (goal >= 2.0)")
    print(f"ours / best direct at {top} clients:   {ours / best_direct:5.2f}x  (goal >= 0.9)")
    print(
        f"single-request latency ours / direct: {ours_ms / direct_ms:5.2f}x  (goal <= 1.15; "
        f"{ours_ms:.0f} ms vs {direct_ms:.0f} ms per request)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
