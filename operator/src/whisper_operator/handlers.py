"""Kopf handlers: thin entry points that parse the spec, call the pure builders and status
functions, and apply the result. Registered on an explicit registry."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from . import GROUP, VERSION
from .conditions import condition_status, now_rfc3339
from .context import OperatorContext
from .job_children import build_worker_job, build_worker_rbac, worker_job_name
from .job_status import Observed, Phase, job_status, unsupported_inputs
from .kube import Kube, connect
from .pool_children import build_deployment, build_hpa, build_pdb, build_service, desired_replicas
from .pool_status import pool_status
from .specs import JobSpec, PoolSpec

POOLS = "whisperpools"
JOBS = "transcriptionjobs"


def _parse(model: type[PoolSpec] | type[JobSpec], spec: Any) -> Any:
    try:
        return model.model_validate(dict(spec))
    except ValidationError as error:
        raise kopf.PermanentError(f"invalid spec: {error}") from error


def _changed(current: dict[str, Any], computed: dict[str, Any]) -> bool:
    return any(current.get(key) != value for key, value in computed.items())


# --- WhisperPool -----------------------------------------------------------------------------


def pool_children(body: Any, spec: PoolSpec, context: OperatorContext) -> list[dict[str, Any]]:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    settings = context.settings
    replicas = desired_replicas(spec)
    children = [
        build_deployment(name, namespace, spec, replicas, settings),
        build_service(name, namespace, settings),
    ]
    optional = {
        ("autoscaling/v2", "HorizontalPodAutoscaler"): build_hpa(name, namespace, spec),
        ("policy/v1", "PodDisruptionBudget"): build_pdb(name, namespace, replicas),
    }
    kube = context.api()
    for (api_version, kind), manifest in optional.items():
        if manifest is None:
            kube.delete(api_version, kind, name, namespace)
        else:
            children.append(manifest)
    kopf.adopt(children, owner=body)
    return children


def reconcile_pool(
    *, body: Any, spec: Any, memo: OperatorContext, logger: kopf.Logger, **_: Any
) -> None:
    parsed = _parse(PoolSpec, spec)
    kube = memo.api()
    try:
        for manifest in pool_children(body, parsed, memo):
            kube.apply(manifest)
    except Exception:
        memo.metrics.reconciles.labels(kind="WhisperPool", result="error").inc()
        raise
    memo.metrics.reconciles.labels(kind="WhisperPool", result="ok").inc()
    logger.info("applied the pool's children for %d replicas", desired_replicas(parsed))


def refresh_pool_status(
    *,
    body: Any,
    spec: Any,
    status: Any,
    patch: kopf.Patch,
    memo: OperatorContext,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    parsed = _parse(PoolSpec, spec)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    kube = memo.api()
    deployment = kube.get("apps/v1", "Deployment", name, namespace)
    if deployment is None:  # deleted behind our back: put it back
        logger.warning("the runtime Deployment is missing; recreating it")
        reconcile_pool(body=body, spec=spec, memo=memo, logger=logger)
    computed = pool_status(
        name, namespace, int(body["metadata"].get("generation", 1)), desired_replicas(parsed),
        deployment, list(status.get("conditions") or []), memo.settings.pool_port, now_rfc3339(),
    )  # fmt: skip
    was_ready = condition_status(list(status.get("conditions") or []), "Ready") == "True"
    is_ready = condition_status(computed["conditions"], "Ready") == "True"
    memo.pools_ready[body["metadata"]["uid"]] = is_ready
    memo.metrics.pools_ready.set(sum(memo.pools_ready.values()))
    if is_ready != was_ready:
        ready = next(c for c in computed["conditions"] if c["type"] == "Ready")
        kopf.event(
            body, type="Normal" if is_ready else "Warning",
            reason="Ready" if is_ready else "NotReady", message=ready["message"],
        )  # fmt: skip
    if _changed(dict(status), computed):
        patch.status.update(computed)


# --- TranscriptionJob --------------------------------------------------------------------------


def _pool_problem(spec: JobSpec, namespace: str, kube: Kube) -> str | None:
    if spec.pool_ref is None:
        return None
    pool = kube.get(f"{GROUP}/{VERSION}", "WhisperPool", spec.pool_ref.name, namespace)
    if pool is None:
        return f"WhisperPool {spec.pool_ref.name} not found in namespace {namespace}"
    conditions = (pool.get("status") or {}).get("conditions") or []
    if condition_status(conditions, "Ready") != "True":
        return f"WhisperPool {spec.pool_ref.name} has no ready replica yet"
    return None


def reconcile_job(
    *, body: Any, spec: Any, status: Any, memo: OperatorContext, logger: kopf.Logger, **_: Any
) -> None:
    if status.get("phase") in (Phase.SUCCEEDED, Phase.FAILED):
        return  # finished: nothing to run
    parsed = _parse(JobSpec, spec)
    if unsupported_inputs(parsed):
        return  # the status timer reports it; nothing to create
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    kube = memo.api()
    children = [
        *build_worker_rbac(name, namespace, parsed),
        build_worker_job(name, namespace, parsed, memo.settings),
    ]
    kopf.adopt(children, owner=body)
    existed = kube.get("batch/v1", "Job", worker_job_name(name), namespace) is not None
    for manifest in children:
        kube.apply(manifest)
    memo.metrics.reconciles.labels(kind="TranscriptionJob", result="ok").inc()
    if not existed:
        created = datetime.datetime.fromisoformat(
            body["metadata"]["creationTimestamp"].replace("Z", "+00:00")
        )
        waited = (datetime.datetime.now(datetime.UTC) - created).total_seconds()
        memo.metrics.time_to_job.observe(max(0.0, waited))
        kopf.event(
            body, type="Normal", reason="WorkersCreated",
            message=f"Job {worker_job_name(name)} runs {parsed.parallelism} worker(s) "
            f"for {len(parsed.inputs)} input(s)",
        )  # fmt: skip
        logger.info("created worker Job %s", worker_job_name(name))


def refresh_job_status(
    *,
    body: Any,
    spec: Any,
    status: Any,
    patch: kopf.Patch,
    memo: OperatorContext,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    parsed = _parse(JobSpec, spec)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    uid = body["metadata"]["uid"]
    kube = memo.api()
    previous_phase = status.get("phase")
    if previous_phase in (Phase.SUCCEEDED, Phase.FAILED):
        _expire(body, parsed, status, kube, logger)
        return
    job_name = worker_job_name(name)
    observed = Observed(
        worker_job=kube.get("batch/v1", "Job", job_name, namespace),
        job_name=job_name,
        unsupported=unsupported_inputs(parsed),
        pool_problem=_pool_problem(parsed, namespace, kube),
    )
    if observed.worker_job is None and not observed.unsupported and not parsed.suspend:
        # The first round, or the Job was deleted behind our back.
        reconcile_job(body=body, spec=spec, status=status, memo=memo, logger=logger)
    computed = job_status(
        parsed, int(body["metadata"].get("generation", 1)), dict(status), observed, now_rfc3339()
    )
    phase = computed["phase"]
    memo.phases[uid] = phase
    for each in Phase:
        memo.metrics.jobs_by_phase.labels(phase=str(each)).set(
            sum(1 for p in memo.phases.values() if p == each)
        )
    if phase != previous_phase:
        condition = next(
            (
                c
                for c in computed["conditions"]
                if c["type"] in ("Complete", "Failed", "Suspended") and c["status"] == "True"
            ),
            None,
        )
        message = condition["message"] if condition else f"phase {phase}"
        kopf.event(
            body,
            type="Warning" if phase == Phase.FAILED else "Normal",
            reason=phase,
            message=message,
        )
        logger.info("phase %s -> %s: %s", previous_phase, phase, message)
    if _changed(dict(status), computed):
        patch.status.update(computed)


def sync_suspend(
    *, body: Any, spec: Any, memo: OperatorContext, logger: kopf.Logger, **_: Any
) -> None:
    """suspend flips: the worker Job follows (its pods stop or start again)."""
    parsed = _parse(JobSpec, spec)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    kube = memo.api()
    if kube.get("batch/v1", "Job", worker_job_name(name), namespace) is None:
        return
    job = build_worker_job(name, namespace, parsed, memo.settings)
    kopf.adopt(job, owner=body)
    kube.apply(job)
    logger.info("worker Job suspend=%s", parsed.suspend)


def _expire(body: Any, spec: JobSpec, status: Any, kube: Kube, logger: kopf.Logger) -> None:
    if spec.ttl_seconds_after_finished is None or not status.get("completionTime"):
        return
    finished = datetime.datetime.fromisoformat(str(status["completionTime"]).replace("Z", "+00:00"))
    age = (datetime.datetime.now(datetime.UTC) - finished).total_seconds()
    if age >= spec.ttl_seconds_after_finished:
        logger.info("ttlSecondsAfterFinished passed: deleting")
        kube.delete(
            f"{GROUP}/{VERSION}",
            "TranscriptionJob",
            body["metadata"]["name"],
            body["metadata"]["namespace"],
        )


# --- registration ---------------------------------------------------------------------------


def build_registry(status_interval: float) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, memo: OperatorContext, **_: Any) -> None:
        prefix = GROUP
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=prefix, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{prefix}/finalizer"
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.peering.mandatory = False
        memo.kube = Kube(connect())

    for resource, on_change in ((POOLS, reconcile_pool), (JOBS, reconcile_job)):
        kopf.on.create(GROUP, VERSION, resource, registry=registry)(on_change)
        kopf.on.resume(GROUP, VERSION, resource, registry=registry)(on_change)
    kopf.on.update(GROUP, VERSION, POOLS, field="spec", registry=registry)(reconcile_pool)
    kopf.on.field(GROUP, VERSION, JOBS, field="spec.suspend", registry=registry)(sync_suspend)
    kopf.timer(GROUP, VERSION, POOLS, interval=status_interval, registry=registry)(
        refresh_pool_status
    )
    kopf.timer(GROUP, VERSION, JOBS, interval=status_interval, registry=registry)(
        refresh_job_status
    )
    return registry
