"""Compute resources of runtime and worker pods: the spec's, or the operator's defaults."""

from __future__ import annotations

from typing import Any

from .settings import OperatorSettings
from .specs import Resources

GPU_RESOURCE = "nvidia.com/gpu"


def resource_requirements(
    resources: Resources, settings: OperatorSettings, gpu: bool
) -> dict[str, Any]:
    """Requests and limits; with `gpu`, one GPU unless the spec asks for another count."""
    requests = dict(resources.requests) or {
        "cpu": settings.default_cpu_request,
        "memory": settings.default_memory_request,
    }
    limits = dict(resources.limits) or {"memory": settings.default_memory_limit}
    if gpu:
        limits.setdefault(GPU_RESOURCE, 1)
        requests.setdefault(GPU_RESOURCE, limits[GPU_RESOURCE])
    return {"requests": requests, "limits": limits}


MODEL_CACHE_DIR = "/var/cache/whisper"


def writable_scratch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) for what runtime pods write: /tmp and the model cache, emptyDirs
    of their own, since their root filesystem is read-only."""
    volumes = [{"name": "tmp", "emptyDir": {}}, {"name": "model-cache", "emptyDir": {}}]
    mounts = [
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (the pod's own emptyDir)
        {"name": "model-cache", "mountPath": MODEL_CACHE_DIR},
    ]
    return volumes, mounts
