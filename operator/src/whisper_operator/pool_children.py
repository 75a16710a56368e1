"""Pure builders of a WhisperPool's children: Deployment, Service, HPA, PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

from . import API_VERSION
from .resources import GPU_RESOURCE, MODEL_CACHE_DIR, resource_requirements, writable_scratch
from .settings import OperatorSettings
from .specs import PoolSpec

Manifest = dict[str, Any]


def pool_labels(name: str) -> dict[str, str]:
    """Selector labels of a pool's pods (stable: never change them for a running pool)."""
    return {"app.kubernetes.io/name": "whisper-runtime", "whisperprod.io/pool": name}


def common_labels(name: str) -> dict[str, str]:
    return {
        **pool_labels(name),
        "app.kubernetes.io/component": "pool",
        "app.kubernetes.io/managed-by": "whisper-operator",
    }


def selector_string(name: str) -> str:
    return ",".join(f"{k}={v}" for k, v in pool_labels(name).items())


def endpoint(name: str, namespace: str, port: int) -> str:
    return f"http://{name}.{namespace}.svc:{port}"


def _env(spec: PoolSpec, settings: OperatorSettings) -> list[Manifest]:
    env: list[Manifest] = [
        {"name": "WHISPER_MODEL", "value": spec.model},
        {"name": "WHISPER_DEVICE", "value": spec.device},
        {"name": "WHISPER_COMPUTE_TYPE", "value": spec.compute_type},
        {"name": "WHISPER_HOST", "value": "0.0.0.0"},  # noqa: S104 (pod network)
        {"name": "WHISPER_PORT", "value": str(settings.pool_port)},
        {"name": "WHISPER_MAX_QUEUE", "value": str(spec.max_queue)},
        {"name": "WHISPER_MAX_BATCH_SIZE", "value": str(spec.batching.max_batch_size)},
        {"name": "WHISPER_MAX_WAIT_MS", "value": str(spec.batching.max_wait_milliseconds)},
        {"name": "WHISPER_BEAM_SIZE", "value": str(spec.beam_size)},
        {"name": "WHISPER_MODEL_CACHE_DIR", "value": MODEL_CACHE_DIR},
    ]
    if spec.api_key_secret_ref is not None:
        ref = spec.api_key_secret_ref
        env.append(
            {
                "name": "WHISPER_API_KEYS",
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
            }
        )
    return env


def build_deployment(
    name: str, namespace: str, spec: PoolSpec, replicas: int, settings: OperatorSettings
) -> Manifest:
    port = settings.pool_port
    volumes, mounts = writable_scratch()
    if spec.model_volume is not None:
        volumes.append(
            {
                "name": "models",
                "persistentVolumeClaim": {
                    "claimName": spec.model_volume.claim_name,
                    "readOnly": True,
                },
            }
        )
        mounts.append({"name": "models", "mountPath": "/models", "readOnly": True})
    tolerations = list(spec.tolerations)
    if spec.device == "cuda" and not any(t.get("key") == GPU_RESOURCE for t in tolerations):
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    container: Manifest = {
        "name": "runtime",
        "image": spec.image or settings.runtime_image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["serve"],
        "env": _env(spec, settings),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        # Large models take a while to load: liveness waits for the first /healthz.
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 150,
        },
        "resources": resource_requirements(spec.resources, settings, spec.device == "cuda"),
        "volumeMounts": mounts,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: Manifest = {
        "containers": [container],
        "volumes": volumes,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "enableServiceLinks": False,
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if tolerations:
        pod_spec["tolerations"] = tolerations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": common_labels(name)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": pool_labels(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {"metadata": {"labels": common_labels(name)}, "spec": pod_spec},
        },
    }


def build_service(name: str, namespace: str, settings: OperatorSettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": common_labels(name)},
        "spec": {
            "selector": pool_labels(name),
            "ports": [{"name": "http", "port": settings.pool_port, "targetPort": "http"}],
        },
    }


def build_hpa(name: str, namespace: str, spec: PoolSpec) -> Manifest | None:
    if spec.autoscaling is None:
        return None
    scaling = spec.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": common_labels(name)},
        "spec": {
            # The pool's scale subresource: the HPA sets spec.replicas, the operator follows.
            "scaleTargetRef": {"apiVersion": API_VERSION, "kind": "WhisperPool", "name": name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }


def build_pdb(name: str, namespace: str, replicas: int) -> Manifest | None:
    if replicas <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "labels": common_labels(name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": pool_labels(name)}},
    }


def desired_replicas(spec: PoolSpec) -> int:
    """What the Deployment runs: spec.replicas (set by users, `kubectl scale` or the HPA),
    kept inside the autoscaling bounds when they exist."""
    if spec.autoscaling is None:
        return spec.replicas
    scaling = spec.autoscaling
    return max(scaling.min_replicas, min(scaling.max_replicas, spec.replicas))
