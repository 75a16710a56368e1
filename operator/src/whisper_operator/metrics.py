"""The operator's Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .job_status import Phase


def phase_counts(
    jobs: Iterable[tuple[str, str]], namespaces: Iterable[str] = ()
) -> dict[tuple[str, str], int]:
    """(namespace, phase) -> number of jobs, with a zero for every phase of every namespace
    given or holding a job, so a phase that empties drops to 0 instead of keeping its value."""
    jobs = list(jobs)
    every = {*namespaces, *(namespace for namespace, _ in jobs)}
    counts = {(namespace, str(phase)): 0 for namespace in every for phase in Phase}
    for namespace, phase in jobs:
        counts[(namespace, phase)] = counts.get((namespace, phase), 0) + 1
    return counts


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
            "TranscriptionJobs that exist now, by namespace and phase",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.time_to_job = Histogram(
            "whisper_operator_apply_to_job_seconds",
            "Time from a TranscriptionJob's creation to its worker Job's creation",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.pool_ready = Gauge(
            "whisper_operator_pool_ready",
            "1 while a WhisperPool's Ready condition is True, else 0",
            ["namespace", "pool"],
            registry=self.registry,
        )

        self._job_namespaces: set[str] = set()  # every namespace reported once stays reported

    def publish_job_phases(self, jobs: Iterable[tuple[str, str]]) -> None:
        counts = phase_counts(jobs, self._job_namespaces)
        self._job_namespaces |= {namespace for namespace, _ in counts}
        for (namespace, phase), count in counts.items():
            self.jobs_by_phase.labels(namespace=namespace, phase=phase).set(count)
