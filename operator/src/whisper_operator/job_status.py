"""A TranscriptionJob's status, computed from its spec, the workers' results and the
observed batch/v1 Job. The workers own `status.results`; everything else is computed here."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .conditions import Condition, set_condition
from .specs import JobSpec


class Phase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"

    def is_terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


@dataclass(frozen=True)
class Observed:
    """What the operator saw this round besides the resource itself."""

    worker_job: dict[str, Any] | None
    job_name: str
    pool_problem: str | None = None  # why the referenced pool cannot take the work


def _job_condition(job: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for condition in (job or {}).get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


@dataclass(frozen=True)
class Computed:
    status: dict[str, Any]  # the operator-owned part of the status (never `results`)
    reason: str  # why the job is in its phase, for events and logs
    message: str


def job_status(
    spec: JobSpec,
    generation: int,
    status: dict[str, Any],
    observed: Observed,
    now: str,
) -> Computed:
    results: list[dict[str, Any]] = list(status.get("results") or [])
    previous_conditions: list[Condition] = list(status.get("conditions") or [])
    previous_phase = status.get("phase")
    keys = {i.key for i in spec.inputs if not i.expands} | {r["input"] for r in results}
    succeeded = sum(1 for r in results if r.get("state") == "Succeeded")
    failed = sum(1 for r in results if r.get("state") == "Failed")
    missing = sorted(k for k in keys if k not in {r["input"] for r in results})
    job = observed.worker_job

    reason, message = "", ""
    if previous_phase in (Phase.SUCCEEDED, Phase.FAILED):
        phase = Phase(previous_phase)  # terminal phases are final
        reason = next(
            (
                c.get("reason", "")
                for c in previous_conditions
                if c.get("type") == phase_condition(phase)
            ),
            "",
        )
    elif spec.suspend:
        phase, reason, message = (
            Phase.SUSPENDED,
            "Suspended",
            "spec.suspend is true: no worker runs",
        )
    elif observed.pool_problem and job is None:
        phase, reason, message = Phase.PENDING, "PoolNotReady", observed.pool_problem
    elif job is None:
        phase, reason, message = Phase.PENDING, "Creating", "creating the worker Job"
    elif _job_condition(job, "Complete") or _job_condition(job, "SuccessCriteriaMet"):
        if failed or missing:
            phase, reason = Phase.FAILED, "InputsFailed"
            first = next((r.get("error", "") for r in results if r.get("state") == "Failed"), "")
            message = f"{failed} of {len(keys)} inputs failed" + (
                f"; first error: {first}" if first else ""
            )
            if missing:
                message += f"; {len(missing)} without a result, e.g. {missing[0]}"
        else:
            phase, reason, message = (
                Phase.SUCCEEDED,
                "AllInputsSucceeded",
                f"{succeeded} inputs transcribed",
            )
    elif (failure := _job_condition(job, "Failed")) is not None:
        phase = Phase.FAILED
        reason = str(failure.get("reason") or "WorkersFailed")
        message = f"the worker Job failed: {failure.get('message') or reason}"
    else:
        phase, reason = Phase.RUNNING, "Transcribing"
        message = f"{succeeded + failed} of {len(keys)} inputs done"

    computed: dict[str, Any] = {
        "phase": str(phase),
        "total": len(keys),
        "succeeded": succeeded,
        "failed": failed,
        "audioSeconds": round(sum(float(r.get("durationSeconds") or 0) for r in results), 3),
        "processingSeconds": round(sum(float(r.get("processingSeconds") or 0) for r in results), 3),
        "observedGeneration": generation,
    }
    if job is not None:
        computed["jobName"] = observed.job_name
        computed["startTime"] = status.get("startTime") or job.get("metadata", {}).get(
            "creationTimestamp", now
        )
    elif status.get("startTime"):
        computed["startTime"] = status["startTime"]
    if phase.is_terminal():
        computed["completionTime"] = status.get("completionTime") or now
    conditions = previous_conditions
    if previous_phase not in (Phase.SUCCEEDED, Phase.FAILED):
        for kind in ("Complete", "Failed", "Suspended"):
            active = phase_condition(phase) == kind
            conditions = set_condition(
                conditions, kind, active, reason if active else "NotApplicable",
                message if active else "", generation, now,
            )  # fmt: skip
        if spec.pool_ref is not None:
            conditions = set_condition(
                conditions, "PoolReady", observed.pool_problem is None,
                "PoolNotReady" if observed.pool_problem else "PoolReady",
                observed.pool_problem or f"WhisperPool {spec.pool_ref.name} is ready",
                generation, now,
            )  # fmt: skip
    computed["conditions"] = conditions
    return Computed(computed, reason, message)


def phase_condition(phase: Phase) -> str | None:
    return {
        Phase.SUCCEEDED: "Complete",
        Phase.FAILED: "Failed",
        Phase.SUSPENDED: "Suspended",
    }.get(phase)
