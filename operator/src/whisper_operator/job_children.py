"""Pure builders of a TranscriptionJob's children: the workers' ServiceAccount, Role and
RoleBinding (least privilege), and the Indexed batch/v1 Job that runs them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import GROUP
from .resources import MODEL_CACHE_DIR, resource_requirements, writable_scratch
from .settings import OperatorSettings
from .specs import JobSpec

Manifest = dict[str, Any]
INPUTS_ROOT = "/inputs"
OUTPUT_ROOT = "/output"


def _name(base: str, suffix: str) -> str:
    # Object names are at most 63 characters where they become labels.
    return f"{base[: 63 - len(suffix) - 1]}-{suffix}"


def worker_job_name(job: str) -> str:
    return _name(job, "workers")


def worker_account_name(job: str) -> str:
    return _name(job, "worker")


def job_labels(job: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "whisper-worker",
        "app.kubernetes.io/managed-by": "whisper-operator",
        "whisperprod.io/transcription-job": job,
    }


def build_worker_rbac(
    job: str,
    namespace: str,
    spec: JobSpec,
    api_key_secret: str | None = None,
    account_annotations: Mapping[str, str] | None = None,
) -> list[Manifest]:
    """A ServiceAccount that may read this TranscriptionJob and write its status, and, with
    a poolRef, read that pool, find its endpoints, and read the Secret of its API keys.
    Nothing else. `account_annotations` go on the ServiceAccount only (cloud identity)."""
    account = worker_account_name(job)
    labels = job_labels(job)
    rules: list[Manifest] = [
        {
            "apiGroups": [GROUP],
            "resources": ["transcriptionjobs"],
            "resourceNames": [job],
            "verbs": ["get"],
        },
        {
            "apiGroups": [GROUP],
            "resources": ["transcriptionjobs/status"],
            "resourceNames": [job],
            "verbs": ["get", "patch"],
        },
    ]  # fmt: skip
    if spec.pool_ref is not None:
        rules += [
            {
                "apiGroups": [GROUP],
                "resources": ["whisperpools"],
                "resourceNames": [spec.pool_ref.name],
                "verbs": ["get"],
            },
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list"]},
        ]  # fmt: skip
        if api_key_secret:
            rules.append(
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [api_key_secret],
                    "verbs": ["get"],
                }
            )
    metadata = {"name": account, "namespace": namespace, "labels": labels}
    account_metadata = (
        {**metadata, "annotations": dict(account_annotations)} if account_annotations else metadata
    )
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account_metadata},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]  # fmt: skip


def _env_from(secret: str) -> Manifest:
    # Optional: a namespace without the Secret runs its workers with the env above only.
    if not secret:
        return {}
    return {"envFrom": [{"secretRef": {"name": secret, "optional": True}}]}


def build_worker_job(
    job: str, namespace: str, spec: JobSpec, settings: OperatorSettings
) -> Manifest:
    labels = job_labels(job)
    volumes, mounts = writable_scratch()
    for index, claim in enumerate(spec.claims):
        volumes.append(
            {
                "name": f"input-{index}",
                "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
            }
        )
        mounts.append(
            {"name": f"input-{index}", "mountPath": f"{INPUTS_ROOT}/{claim}", "readOnly": True}
        )
    if spec.output.pvc is not None:
        volumes.append(
            {"name": "output", "persistentVolumeClaim": {"claimName": spec.output.pvc.claim_name}}
        )
        mounts.append({"name": "output", "mountPath": OUTPUT_ROOT})
    env: list[Manifest] = [
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "WHISPER_MODEL", "value": spec.model},
        {"name": "WHISPER_DEVICE", "value": spec.device},
        {"name": "WHISPER_BEAM_SIZE", "value": str(spec.beam_size)},
        {"name": "WHISPER_VAD", "value": "true" if spec.vad else "false"},
        {"name": "WHISPER_MODEL_CACHE_DIR", "value": MODEL_CACHE_DIR},
        {"name": "WHISPER_LOG_JSON", "value": "true"},
    ]
    pod_spec: Manifest = {
        "serviceAccountName": worker_account_name(job),
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "worker",
                "image": spec.image or settings.runtime_image,
                "imagePullPolicy": settings.image_pull_policy,
                "args": ["batch", "--transcription-job", job, "--shards", str(spec.parallelism)],
                "env": env,
                **_env_from(settings.worker_env_secret),
                "resources": resource_requirements(
                    spec.resources, settings, spec.device == "cuda" and spec.pool_ref is None
                ),
                "volumeMounts": mounts,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": volumes,
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = list(spec.tolerations)
    job_spec: Manifest = {
        "completionMode": "Indexed",
        "completions": spec.parallelism,
        "parallelism": spec.parallelism,
        # Each worker retries its own inputs; a crashed pod is retried per index.
        "backoffLimitPerIndex": settings.worker_backoff_limit,
        "suspend": spec.suspend,
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": worker_job_name(job), "namespace": namespace, "labels": labels},
        "spec": job_spec,
    }
