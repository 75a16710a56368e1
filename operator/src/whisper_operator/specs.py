"""The CRD specs as frozen models: parsed once per handler call, typed everywhere after."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Spec(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Autoscaling(Spec):
    min_replicas: int = 1
    max_replicas: int
    target_cpu_utilization_percentage: int = Field(70, alias="targetCPUUtilizationPercentage")


class Batching(Spec):
    max_batch_size: int = 8
    max_wait_milliseconds: int = 2


class SecretKeyRef(Spec):
    name: str
    key: str = "api-keys"


class ClaimRef(Spec):
    claim_name: str


class Resources(Spec):
    limits: dict[str, Any] = Field(default_factory=dict)
    requests: dict[str, Any] = Field(default_factory=dict)


class PoolSpec(Spec):
    model: str
    device: Literal["cpu", "cuda"] = "cpu"
    compute_type: str = "default"
    replicas: int = 1
    autoscaling: Autoscaling | None = None
    batching: Batching = Field(default_factory=Batching)
    max_queue: int = 64
    beam_size: int = 5
    image: str | None = None
    resources: Resources = Field(default_factory=Resources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    api_key_secret_ref: SecretKeyRef | None = None
    model_volume: ClaimRef | None = None


class PvcSource(Spec):
    claim_name: str
    path: str


class Input(Spec):
    url: str | None = None
    s3: str | None = None
    pvc: PvcSource | None = None

    @property
    def key(self) -> str:
        """How the input is named in status.results (and in the workers' output)."""
        if self.url:
            return self.url
        if self.s3:
            return self.s3
        if self.pvc is None:  # the CRD's CEL rule allows exactly one source
            raise ValueError("an input needs one of url, s3 or pvc")
        return f"pvc://{self.pvc.claim_name}/{self.pvc.path.lstrip('/')}"

    @property
    def expands(self) -> bool:
        """A pvc glob or an s3 prefix: the workers turn it into one result per file."""
        if self.s3:
            return self.s3.endswith("/") or "/" not in self.s3.removeprefix("s3://")
        return self.pvc is not None and any(ch in self.pvc.path for ch in "*?[")


class PoolRef(Spec):
    name: str


class PvcOutput(Spec):
    claim_name: str
    path: str = "transcripts"


class Output(Spec):
    pvc: PvcOutput | None = None
    s3: str | None = None  # s3://bucket/prefix/


class JobSpec(Spec):
    inputs: list[Input]
    pool_ref: PoolRef | None = None
    model: str = "tiny.en"
    device: Literal["cpu", "cuda"] = "cpu"
    language: str | None = None
    task: Literal["transcribe", "translate"] = "transcribe"
    prompt: str | None = None
    temperature: float | None = None
    beam_size: int = 5
    vad: bool = False
    word_timestamps: bool = False
    parallelism: int = 1
    max_retries: int = 2
    suspend: bool = False
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    image: str | None = None
    resources: Resources = Field(default_factory=Resources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    output: Output = Field(default_factory=Output)

    @property
    def claims(self) -> list[str]:
        """Input claims, each mounted once."""
        return sorted({i.pvc.claim_name for i in self.inputs if i.pvc is not None})
