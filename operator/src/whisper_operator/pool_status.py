"""A WhisperPool's status, computed from its spec and its observed Deployment."""

from __future__ import annotations

from typing import Any

from .conditions import Condition, set_condition
from .pool_children import endpoint, selector_string


def pool_status(
    name: str,
    namespace: str,
    generation: int,
    desired: int,
    deployment: dict[str, Any] | None,
    previous: list[Condition],
    port: int,
    now: str,
) -> dict[str, Any]:
    observed = (deployment or {}).get("status", {})
    replicas = int(observed.get("replicas", 0))
    ready = int(observed.get("readyReplicas", 0))
    updated = int(observed.get("updatedReplicas", 0))
    if deployment is None:
        is_ready, reason, message = (
            False,
            "DeploymentMissing",
            "the runtime Deployment is being created",
        )
    elif desired == 0:
        is_ready, reason, message = False, "ScaledToZero", "replicas is 0: no pod serves requests"
    elif ready == 0:
        is_ready, reason, message = (
            False,
            "NoReplicasReady",
            f"0/{desired} runtime pods ready (loading the model, or see the pods' events)",
        )
    else:
        is_ready, reason, message = True, "ReplicasReady", f"{ready}/{desired} runtime pods ready"
    rolling = deployment is not None and (
        updated < desired
        or deployment.get("metadata", {}).get("generation") != observed.get("observedGeneration")
    )
    conditions = set_condition(previous, "Ready", is_ready, reason, message, generation, now)
    conditions = set_condition(
        conditions,
        "Progressing",
        rolling,
        "RollingOut" if rolling else "Stable",
        f"{updated}/{desired} pods run the current spec",
        generation,
        now,
    )
    return {
        "replicas": replicas,
        "readyReplicas": ready,
        "selector": selector_string(name),
        "endpoint": endpoint(name, namespace, port),
        "observedGeneration": generation,
        "conditions": conditions,
    }
