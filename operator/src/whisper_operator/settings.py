"""Operator settings, read once at start-up from WHISPER_OPERATOR_* variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WHISPER_OPERATOR_", frozen=True, extra="ignore")

    runtime_image: str = Field(
        "ghcr.io/whisper-prod/runtime:0.1.0",
        description="image of runtime pods and job workers when a resource names none",
    )
    image_pull_policy: str = Field("IfNotPresent", description="of runtime and worker pods")
    namespaces: str = Field(
        "", description="comma-separated namespaces to watch; empty watches the whole cluster"
    )
    default_cpu_request: str = Field("1", description="CPU request of pods that set none")
    default_memory_request: str = Field("1Gi", description="memory request of pods that set none")
    default_memory_limit: str = Field("4Gi", description="memory limit of pods that set none")
    pool_port: int = Field(8000, description="port the runtime pods listen on")
    status_interval_seconds: float = Field(2.0, gt=0, description="how often status is refreshed")
    metrics_port: int = Field(8080, description="Prometheus metrics; 0 turns them off")
    liveness_endpoint: str = Field(
        "http://0.0.0.0:8081/healthz", description="Kopf's health probe endpoint; empty: none"
    )
    peering_name: str = Field(
        "whisper-prod", description="Kopf peering: replicas with one name keep one active"
    )
    peering_priority: int = Field(
        0,
        ge=0,
        description="this replica's peering priority; 0 picks a random one, so one "
        "replica of several is active and another takes over when it stops",
    )
    standalone: bool = Field(False, description="run without peering (a single replica)")
    worker_backoff_limit: int = Field(3, ge=0, description="pod failures a worker Job tolerates")
    worker_env_secret: str = Field(
        "whisper-worker-env",
        description="a Secret in the job's namespace whose keys become environment variables "
        "of its workers, if it exists (e.g. AWS_ENDPOINT_URL_S3 and keys for MinIO); empty: none",
    )
    worker_service_account_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="annotations of every worker ServiceAccount, as JSON; e.g. "
        '{"eks.amazonaws.com/role-arn": "arn:..."} gives workers an IAM role (IRSA) for S3',
    )

    @property
    def namespace_list(self) -> list[str]:
        return [n.strip() for n in self.namespaces.split(",") if n.strip()]
