"""Kopf handlers: thin entry points that parse the spec, call the pure builders and status
functions, and apply the result. Registered on an explicit registry."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import kopf
from pydantic import ValidationError

from . import GROUP, VERSION
from .conditions import condition_status, now_rfc3339
from .context import OperatorContext
from .job_children import build_worker_job, build_worker_rbac, worker_job_name
from .job_status import Observed, Phase, job_status
from .kube import Kube, connect
from .pool_children import build_deployment, build_hpa, build_pdb, build_service, desired_replicas
from .pool_status import pool_status
from .settings import OperatorSettings
from .specs import JobSpec, PoolSpec

log = logging.getLogger("whisper_operator")
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


def pool_children(
    body: Any, spec: PoolSpec, settings: OperatorSettings
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The children to apply (owned by the pool), and the kinds of optional children the
    spec no longer wants (to delete)."""
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    replicas = desired_replicas(spec)
    children = [
        build_deployment(name, namespace, spec, replicas, settings),
        build_service(name, namespace, settings),
    ]
    optional = {
        ("autoscaling/v2", "HorizontalPodAutoscaler"): build_hpa(name, namespace, spec),
        ("policy/v1", "PodDisruptionBudget"): build_pdb(name, namespace, replicas),
    }
    children += [manifest for manifest in optional.values() if manifest is not None]
    unwanted = [kind for kind, manifest in optional.items() if manifest is None]
    kopf.adopt(children, owner=body)
    return children, unwanted


def reconcile_pool(
    *, body: Any, spec: Any, memo: OperatorContext, logger: kopf.Logger, **_: Any
) -> None:
    parsed = _parse(PoolSpec, spec)
    kube = memo.api()
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    children, unwanted = pool_children(body, parsed, memo.settings)
    try:
        for manifest in children:
            kube.apply(manifest)
        for api_version, kind in unwanted:
            kube.delete(api_version, kind, name, namespace)
    except Exception:
        memo.metrics.reconciles.labels(kind="WhisperPool", result="error").inc()
        raise
    memo.metrics.reconciles.labels(kind="WhisperPool", result="ok").inc()
    log.info(
        "%s/%s: applied the pool's children for %d replicas",
        namespace, name, desired_replicas(parsed),
    )  # fmt: skip


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
    if deployment is None and status.get("observedGeneration"):  # deleted behind our back
        log.warning("%s/%s: the runtime Deployment is missing; recreating it", namespace, name)
        reconcile_pool(body=body, spec=spec, memo=memo, logger=logger)
    computed = pool_status(
        name, namespace, int(body["metadata"].get("generation", 1)), desired_replicas(parsed),
        deployment, list(status.get("conditions") or []), memo.settings.pool_port, now_rfc3339(),
    )  # fmt: skip
    was_ready = condition_status(list(status.get("conditions") or []), "Ready") == "True"
    is_ready = condition_status(computed["conditions"], "Ready") == "True"
    memo.metrics.pool_ready.labels(namespace=namespace, pool=name).set(int(is_ready))
    if is_ready != was_ready:
        ready = next(c for c in computed["conditions"] if c["type"] == "Ready")
        kopf.event(
            body, type="Normal" if is_ready else "Warning",
            reason="Ready" if is_ready else "NotReady", message=ready["message"],
        )  # fmt: skip
    if _changed(dict(status), computed):
        patch.status.update(computed)


# --- TranscriptionJob --------------------------------------------------------------------------


def _pool_problem(spec: JobSpec, namespace: str, pool: dict[str, Any] | None) -> str | None:
    if spec.pool_ref is None:
        return None
    if pool is None:
        return f"WhisperPool {spec.pool_ref.name} not found in namespace {namespace}"
    conditions = (pool.get("status") or {}).get("conditions") or []
    if condition_status(conditions, "Ready") != "True":
        return f"WhisperPool {spec.pool_ref.name} has no ready replica yet"
    return None


def _api_key_secret(pool: dict[str, Any] | None) -> str | None:
    """The Secret holding a pool's API keys, which its poolRef workers must read."""
    ref = ((pool or {}).get("spec") or {}).get("apiKeySecretRef") or {}
    return ref.get("name")


def ensure_workers(
    body: Any, spec: JobSpec, observed: Observed, memo: OperatorContext, api_key_secret: str | None
) -> None:
    """Create the workers (RBAC and Job) when missing; make the Job follow spec.suspend."""
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    job = observed.worker_job
    if job is not None and bool(job.get("spec", {}).get("suspend")) == spec.suspend:
        return
    children = [
        *build_worker_rbac(
            name,
            namespace,
            spec,
            api_key_secret,
            memo.settings.worker_service_account_annotations,
        ),  # fmt: skip
        build_worker_job(name, namespace, spec, memo.settings),
    ]
    kopf.adopt(children, owner=body)
    kube = memo.api()
    for manifest in children if job is None else children[-1:]:
        kube.apply(manifest)
    memo.metrics.reconciles.labels(kind="TranscriptionJob", result="ok").inc()
    if job is not None:
        log.info("%s/%s: worker Job suspend=%s", namespace, name, spec.suspend)
        return
    created = datetime.datetime.fromisoformat(
        body["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )
    memo.metrics.time_to_job.observe(
        max(0.0, (datetime.datetime.now(datetime.UTC) - created).total_seconds())
    )
    message = (
        f"Job {observed.job_name} runs {spec.parallelism} worker(s) for {len(spec.inputs)} input(s)"
    )
    kopf.event(body, type="Normal", reason="WorkersCreated", message=message)
    log.info("%s/%s: %s", namespace, name, message)


def reconcile_job(
    *,
    body: Any,
    spec: Any,
    status: Any,
    patch: kopf.Patch,
    memo: OperatorContext,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """The level-based loop of a TranscriptionJob (a timer): observe the worker Job and the
    results, create or adjust the workers, and write the computed status."""
    parsed = _parse(JobSpec, spec)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    kube = memo.api()
    previous_phase = status.get("phase")
    if previous_phase in (Phase.SUCCEEDED, Phase.FAILED):
        _record_phase(memo, body, previous_phase)
        _expire(body, parsed, status, kube)
        return
    job_name = worker_job_name(name)
    pool = None
    if parsed.pool_ref is not None:
        pool = kube.get(f"{GROUP}/{VERSION}", "WhisperPool", parsed.pool_ref.name, namespace)
    observed = Observed(
        worker_job=kube.get("batch/v1", "Job", job_name, namespace),
        job_name=job_name,
        pool_problem=_pool_problem(parsed, namespace, pool),
    )
    ensure_workers(body, parsed, observed, memo, _api_key_secret(pool))
    if observed.worker_job is None and not parsed.suspend:
        observed = replace(observed, worker_job=kube.get("batch/v1", "Job", job_name, namespace))
    computed = job_status(
        parsed, int(body["metadata"].get("generation", 1)), dict(status), observed, now_rfc3339()
    )
    phase = computed.status["phase"]
    _record_phase(memo, body, phase)
    if phase != previous_phase:
        kind = "Warning" if phase == Phase.FAILED else "Normal"
        kopf.event(body, type=kind, reason=phase, message=computed.message or f"phase {phase}")
        log.info("%s/%s: %s -> %s: %s", namespace, name, previous_phase, phase, computed.message)
    if _changed(dict(status), computed.status):
        patch.status.update(computed.status)


def _record_phase(memo: OperatorContext, body: Any, phase: str) -> None:
    # Every job's timer calls this each interval: recount only when something changed.
    uid, seen = body["metadata"]["uid"], (body["metadata"]["namespace"], phase)
    if memo.job_phases.get(uid) == seen:
        return
    memo.job_phases[uid] = seen
    memo.metrics.publish_job_phases(memo.job_phases.values())


def forget_job(*, type: str, body: Any, memo: OperatorContext, **_: Any) -> None:
    """A deleted job leaves the phase gauge (seen on the watch stream: no finalizer)."""
    if type != "DELETED":
        return
    memo.job_phases.pop(body["metadata"]["uid"], None)
    memo.metrics.publish_job_phases(memo.job_phases.values())


def forget_pool(*, type: str, body: Any, memo: OperatorContext, **_: Any) -> None:
    """A deleted pool's ready series goes away instead of alerting as not ready."""
    if type != "DELETED":
        return
    metadata = body["metadata"]
    with contextlib.suppress(KeyError):
        memo.metrics.pool_ready.remove(metadata["namespace"], metadata["name"])


def _expire(body: Any, spec: JobSpec, status: Any, kube: Kube) -> None:
    if spec.ttl_seconds_after_finished is None or not status.get("completionTime"):
        return
    finished = datetime.datetime.fromisoformat(str(status["completionTime"]).replace("Z", "+00:00"))
    age = (datetime.datetime.now(datetime.UTC) - finished).total_seconds()
    if age >= spec.ttl_seconds_after_finished:
        log.info("%s: ttlSecondsAfterFinished passed: deleting", body["metadata"]["name"])
        kube.delete(
            f"{GROUP}/{VERSION}",
            "TranscriptionJob",
            body["metadata"]["name"],
            body["metadata"]["namespace"],
        )


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster_connection() -> kopf.ConnectionInfo | None:
    """The pod's service account, at KUBERNETES_SERVICE_HOST:PORT as client-go reads them
    (Kopf's own helper names kubernetes.default.svc, which needs cluster DNS)."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    token = SERVICE_ACCOUNT / "token"
    if not host or not port or not token.exists():
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    namespace = SERVICE_ACCOUNT / "namespace"
    return kopf.ConnectionInfo(
        server=f"https://{host}:{port}",
        ca_path=str(SERVICE_ACCOUNT / "ca.crt"),
        token=token.read_text().strip(),
        default_namespace=namespace.read_text().strip() if namespace.exists() else None,
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
        # A deleted resource waits for its timer to exit before Kopf lets it go: check
        # often, so deletions (and TTL expiry, which a timer performs) finish in seconds.
        settings.background.instant_exit_timeout = 1.0
        settings.background.cancellation_polling = 1
        memo.kube = Kube(connect())

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod its service account; elsewhere the current kubeconfig.
        return in_cluster_connection() or kopf.login_with_kubeconfig(**kwargs)

    for on in (kopf.on.create, kopf.on.resume):
        on(GROUP, VERSION, POOLS, registry=registry)(reconcile_pool)
    kopf.on.update(GROUP, VERSION, POOLS, field="spec", registry=registry)(reconcile_pool)
    kopf.timer(GROUP, VERSION, POOLS, interval=status_interval, registry=registry)(
        refresh_pool_status
    )
    # Jobs are level-based only: one loop observes, creates and reports.
    kopf.timer(GROUP, VERSION, JOBS, interval=status_interval, registry=registry)(reconcile_job)
    kopf.on.event(GROUP, VERSION, JOBS, registry=registry)(forget_job)
    kopf.on.event(GROUP, VERSION, POOLS, registry=registry)(forget_pool)
    return registry
