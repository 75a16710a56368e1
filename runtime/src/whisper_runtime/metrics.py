"""Prometheus metrics of one runtime process, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    """All the series the runtime exports; one instance per app (tests build several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "whisper_requests_total",
            "HTTP requests by endpoint and status code",
            ["endpoint", "status"],
            registry=r,
        )
        self.request_latency = Histogram(
            "whisper_request_duration_seconds",
            "Time from request received to response sent",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter(
            "whisper_audio_seconds_total", "Seconds of audio transcribed", registry=r
        )
        self.inference_seconds = Histogram(
            "whisper_inference_duration_seconds",
            "Model time per transcription (parallel) or per batch (batched)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "whisper_batch_size",
            "Audio windows decoded together in one model call",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "whisper_queue_depth", "Admitted requests waiting for a model worker", registry=r
        )
        self.in_flight = Gauge(
            "whisper_requests_in_flight", "Requests admitted and not yet answered", registry=r
        )
        self.queue_capacity = Gauge(
            "whisper_queue_capacity", "Most requests admitted at once", registry=r
        )
        self.model_load_seconds = Gauge(
            "whisper_model_load_seconds", "Time taken to load and warm up the model", registry=r
        )
        self.model_ready = Gauge(
            "whisper_model_ready", "1 once the model has answered its warm-up", registry=r
        )
        self.errors = Counter(
            "whisper_errors_total", "Failed requests or items by kind", ["kind"], registry=r
        )
