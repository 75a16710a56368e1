"""The operator's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reconciles = Counter(
            "whisper_operator_reconciles_total",
            "Reconciliations by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.jobs_by_phase = Gauge(
            "whisper_operator_transcription_jobs",
            "TranscriptionJobs seen by this operator, by phase",
            ["phase"],
            registry=self.registry,
        )
        self.time_to_job = Histogram(
            "whisper_operator_apply_to_job_seconds",
            "Time from a TranscriptionJob's creation to its worker Job's creation",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.pools_ready = Gauge(
            "whisper_operator_pools_ready",
            "WhisperPools whose Ready condition is True",
            registry=self.registry,
        )
