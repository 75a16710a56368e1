"""Runtime settings: one object built at start-up from flags and WHISPER_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Device = Literal["cpu", "cuda", "auto"]
SchedulerKind = Literal["auto", "parallel", "batched"]


class RuntimeSettings(BaseSettings):
    """Everything the server, the CLI and the batch worker can be told.

    Each field reads the environment variable WHISPER_<FIELD NAME IN CAPITALS>.
    """

    model_config = SettingsConfigDict(env_prefix="WHISPER_", frozen=True, extra="ignore")

    # Model
    model: str = Field(
        "tiny.en",
        description="faster-whisper model name (tiny.en, small, large-v3, ...) or a directory "
        "holding a CTranslate2 Whisper model",
    )
    model_cache_dir: Path | None = Field(
        None, description="where downloaded models are kept (a volume in Kubernetes)"
    )
    device: Device = Field("cpu", description="cpu, cuda, or auto")
    compute_type: str = Field(
        "default",
        description="CTranslate2 compute type: int8, int8_float16, float16, float32 or default "
        "(int8 on CPU, float16 on CUDA)",
    )
    cpu_threads: int = Field(0, ge=0, description="threads per model worker; 0 = cores / workers")
    workers: int = Field(
        0, ge=0, description="parallel model workers; 0 = one per physical core on CPU, 1 on CUDA"
    )

    # Scheduling
    scheduler: SchedulerKind = Field(
        "auto",
        description="parallel: whole requests on parallel model workers (CPU); batched: 30-s "
        "windows of different requests decoded together (GPU); auto picks by device",
    )
    max_batch_size: int = Field(8, ge=1, le=256, description="windows decoded together")
    max_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="longest wait for a batch to fill when work is queued"
    )
    max_queue: int = Field(
        64, ge=1, description="requests admitted (running + waiting) before answering 429"
    )

    # HTTP
    host: str = Field("0.0.0.0", description="address to listen on")  # noqa: S104 (a server)
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    max_upload_mb: float = Field(25.0, gt=0, description="largest accepted upload, in MiB")
    max_batch_files: int = Field(16, ge=1, description="most files in one batch request")
    api_keys: SecretStr | None = Field(
        None,
        description="comma-separated API keys; when set (or api_keys_file), every /v1 call "
        "needs 'Authorization: Bearer <key>'",
    )
    api_keys_file: Path | None = Field(None, description="file with one API key per line")
    served_model_name: str | None = Field(
        None, description="the model id shown by /v1/models (default: the model setting)"
    )

    # Default decoding (faster-whisper's own defaults)
    beam_size: int = Field(5, ge=1, le=20, description="beam size of the decoder")
    vad: bool = Field(False, description="drop silence with Silero VAD before decoding")
    log_level: str = Field("info", description="debug, info, warning or error")
    log_json: bool = Field(True, description="one JSON object per log line")

    @field_validator("model")
    @classmethod
    def _model_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model must name a model or a directory")
        return value.strip()

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def resolved_device(self) -> Literal["cpu", "cuda"]:
        if self.device != "auto":
            return self.device
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"

    @property
    def resolved_scheduler(self) -> Literal["parallel", "batched"]:
        if self.scheduler != "auto":
            return self.scheduler
        return "batched" if self.resolved_device == "cuda" else "parallel"

    @property
    def resolved_workers(self) -> int:
        if self.workers:
            return self.workers
        if self.resolved_device == "cuda":
            return 1
        return physical_cores()

    @property
    def resolved_cpu_threads(self) -> int:
        if self.cpu_threads:
            return self.cpu_threads
        return max(1, physical_cores() // self.resolved_workers)

    def load_api_keys(self) -> frozenset[str]:
        keys: set[str] = set()
        if self.api_keys is not None:
            keys.update(k.strip() for k in self.api_keys.get_secret_value().split(","))
        if self.api_keys_file is not None:
            keys.update(line.strip() for line in self.api_keys_file.read_text().splitlines())
        return frozenset(k for k in keys if k)


def physical_cores(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may use: its CPU affinity (a cpuset), capped by a cgroup v2 CPU
    quota (a Kubernetes CPU limit), which affinity does not show."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_cpu_max)
    if quota is not None:
        cores = min(cores, quota)
    return max(1, cores)


def cgroup_cpu_quota(cpu_max: Path) -> int | None:
    """Whole cores allowed by a cgroup v2 `cpu.max` file ("200000 100000" = 2), rounded up;
    None when there is no file or no limit ("max 100000")."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, -(-int(quota) // int(period)))
