"""The operator's pure functions: child objects and status, no cluster."""

from __future__ import annotations

import pytest

from whisper_operator.conditions import set_condition
from whisper_operator.job_children import build_worker_job, build_worker_rbac
from whisper_operator.job_status import Observed, job_status
from whisper_operator.metrics import phase_counts
from whisper_operator.pool_children import (
    build_deployment,
    build_hpa,
    build_pdb,
    desired_replicas,
)
from whisper_operator.pool_status import pool_status
from whisper_operator.settings import OperatorSettings
from whisper_operator.specs import JobSpec, PoolSpec

pytestmark = pytest.mark.unit
SETTINGS = OperatorSettings(runtime_image="registry.example/whisper-prod/runtime:1")
NOW = "2026-11-24T10:00:00Z"


def test_deployment_for_a_cpu_pool() -> None:
    spec = PoolSpec.model_validate({"model": "small", "apiKeySecretRef": {"name": "keys"}})
    deployment = build_deployment("sales", "team", spec, 3, SETTINGS)
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example/whisper-prod/runtime:1"
    env = {e["name"]: e for e in container["env"]}
    assert env["WHISPER_MODEL"]["value"] == "small"
    assert env["WHISPER_API_KEYS"]["valueFrom"] == {
        "secretKeyRef": {"name": "keys", "key": "api-keys"}
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    security = container["securityContext"]
    assert security["runAsNonRoot"]
    assert security["readOnlyRootFilesystem"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "tolerations" not in pod
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_cuda_pools_request_a_gpu_and_tolerate_its_taint() -> None:
    spec = PoolSpec.model_validate({"model": "large-v3", "device": "cuda"})
    pod = build_deployment("gpu", "team", spec, 1, SETTINGS)["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]


def test_autoscaling_targets_the_pool_and_bounds_replicas() -> None:
    spec = PoolSpec.model_validate(
        {"model": "small", "replicas": 9, "autoscaling": {"minReplicas": 2, "maxReplicas": 5}}
    )
    hpa = build_hpa("sales", "team", spec)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "whisperprod.io/v1alpha1",
        "kind": "WhisperPool",
        "name": "sales",
    }
    assert desired_replicas(spec) == 5
    assert build_hpa("sales", "team", PoolSpec(model="small")) is None
    assert build_pdb("sales", "team", 1) is None
    pdb = build_pdb("sales", "team", 2)
    assert pdb is not None
    assert pdb["spec"]["maxUnavailable"] == 1


def test_worker_rbac_is_least_privilege() -> None:
    plain = JobSpec.model_validate({"inputs": [{"url": "https://a/b.wav"}]})
    account, role, binding = build_worker_rbac("calls", "team", plain)
    assert account["kind"] == "ServiceAccount"
    rules = role["rules"]
    assert rules == [
        {"apiGroups": ["whisperprod.io"], "resources": ["transcriptionjobs"], "resourceNames": ["calls"], "verbs": ["get"]},
        {"apiGroups": ["whisperprod.io"], "resources": ["transcriptionjobs/status"], "resourceNames": ["calls"], "verbs": ["get", "patch"]},
    ]  # fmt: skip
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "calls-worker", "namespace": "team"}
    ]
    pooled = JobSpec.model_validate(
        {"inputs": [{"url": "https://a/b.wav"}], "poolRef": {"name": "sales"}}
    )
    extra = build_worker_rbac("calls", "team", pooled)[1]["rules"][2:]
    assert {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["list"],
    } in extra
    assert all("*" not in rule["verbs"] for rule in rules + extra)


def test_worker_job_is_indexed_and_mounts_claims() -> None:
    spec = JobSpec.model_validate(
        {
            "inputs": [
                {"pvc": {"claimName": "calls", "path": "2026/*.wav"}},
                {"url": "https://a/b.wav"},
            ],
            "parallelism": 3,
            "activeDeadlineSeconds": 600,
            "output": {"pvc": {"claimName": "out"}},
        }
    )
    job = build_worker_job("calls", "team", spec, SETTINGS)
    assert job["metadata"]["name"] == "calls-workers"
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 3
    assert job["spec"]["activeDeadlineSeconds"] == 600
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "calls-worker"
    container = pod["containers"][0]
    assert container["args"] == ["batch", "--transcription-job", "calls", "--shards", "3"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/inputs/calls"]["readOnly"] is True
    assert "/output" in mounts
    long_name = build_worker_job("x" * 80, "team", spec, SETTINGS)["metadata"]["name"]
    assert len(long_name) <= 63
    assert long_name.endswith("-workers")


def _job(conditions: list[str], active: int = 0) -> dict[str, object]:
    return {
        "metadata": {"creationTimestamp": "2026-11-24T09:59:00Z"},
        "status": {
            "active": active,
            "conditions": [{"type": t, "status": "True"} for t in conditions],
        },
    }


SPEC = JobSpec.model_validate({"inputs": [{"url": "https://a/1.wav"}, {"url": "https://a/2.wav"}]})
GOOD = {
    "input": "https://a/1.wav",
    "state": "Succeeded",
    "durationSeconds": 4.0,
    "processingSeconds": 0.5,
}
BAD = {
    "input": "https://a/2.wav",
    "state": "Failed",
    "error": "GET https://a/2.wav answered HTTP 404",
}


@pytest.mark.parametrize(
    ("job", "results", "phase", "reason"),
    [
        (None, [], "Pending", "Creating"),
        (_job([], active=1), [GOOD], "Running", "Transcribing"),
        (_job(["SuccessCriteriaMet", "Complete"]), [GOOD, {**GOOD, "input": "https://a/2.wav"}], "Succeeded", "AllInputsSucceeded"),
        (_job(["SuccessCriteriaMet", "Complete"]), [GOOD, BAD], "Failed", "InputsFailed"),
        (_job(["FailureTarget", "Failed"]), [GOOD], "Failed", "WorkersFailed"),
    ],
)  # fmt: skip
def test_job_phases(
    job: dict[str, object] | None, results: list[dict[str, object]], phase: str, reason: str
) -> None:
    observed = Observed(worker_job=job, job_name="x-workers")
    computed = job_status(SPEC, 1, {"results": results}, observed, NOW)
    assert computed.status["phase"] == phase
    assert computed.reason == reason
    assert computed.status["total"] == 2
    if phase == "Failed" and results == [GOOD, BAD]:
        assert computed.status["failed"] == 1
        assert computed.status["succeeded"] == 1
        assert "HTTP 404" in computed.message
        failed = next(c for c in computed.status["conditions"] if c["type"] == "Failed")
        assert failed["status"] == "True"
        assert "1 of 2 inputs failed" in failed["message"]
    if phase in ("Succeeded", "Failed"):
        assert computed.status["completionTime"] == NOW


def test_terminal_phases_are_final_and_prefixes_count_by_results() -> None:
    done = job_status(
        SPEC, 1, {"phase": "Succeeded", "completionTime": "t0"}, Observed(None, "x"), NOW
    )
    assert done.status["phase"] == "Succeeded"
    assert done.status["completionTime"] == "t0"
    # An s3 prefix (like a pvc glob) counts by what the workers found, an object by itself.
    s3 = JobSpec.model_validate(
        {"inputs": [{"s3": "s3://bucket/calls/"}, {"s3": "s3://bucket/one.wav"}]}
    )
    assert [i.expands for i in s3.inputs] == [True, False]
    assert JobSpec.model_validate({"inputs": [{"s3": "s3://bucket"}]}).inputs[0].expands
    running = job_status(s3, 1, {}, Observed(None, "x"), NOW)
    assert running.status["total"] == 1
    found = {"results": [{"input": "s3://bucket/calls/a.wav", "state": "Succeeded"}]}
    assert job_status(s3, 1, found, Observed(None, "x"), NOW).status["total"] == 2
    suspended = JobSpec.model_validate({"inputs": [{"url": "https://a/1.wav"}], "suspend": True})
    assert job_status(suspended, 2, {}, Observed(None, "x"), NOW).status["phase"] == "Suspended"


def test_workers_take_env_from_an_optional_secret() -> None:
    container = build_worker_job("calls", "team", SPEC, OperatorSettings())["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "whisper-worker-env", "optional": True}}]
    none = build_worker_job("calls", "team", SPEC, OperatorSettings(worker_env_secret=""))
    assert "envFrom" not in none["spec"]["template"]["spec"]["containers"][0]


def test_condition_transition_time_changes_only_with_status() -> None:
    first = set_condition([], "Ready", False, "NoReplicasReady", "0/1", 1, "t1")
    same = set_condition(first, "Ready", False, "NoReplicasReady", "0/1", 2, "t2")
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["observedGeneration"] == 2
    flipped = set_condition(same, "Ready", True, "ReplicasReady", "1/1", 2, "t3")
    assert flipped[0]["lastTransitionTime"] == "t3"
    assert len(flipped) == 1


def test_pool_status_from_its_deployment() -> None:
    deployment = {
        "metadata": {"generation": 2},
        "status": {
            "replicas": 2,
            "readyReplicas": 1,
            "updatedReplicas": 2,
            "observedGeneration": 2,
        },
    }
    status = pool_status("sales", "team", 4, 2, deployment, [], 8000, NOW)
    assert status["endpoint"] == "http://sales.team.svc:8000"
    assert status["selector"] == "app.kubernetes.io/name=whisper-runtime,whisperprod.io/pool=sales"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["message"] == "1/2 runtime pods ready"
    missing = pool_status("sales", "team", 1, 2, None, [], 8000, NOW)
    assert (
        next(c for c in missing["conditions"] if c["type"] == "Ready")["reason"]
        == "DeploymentMissing"
    )


def test_phase_counts_include_zero_for_emptied_phases() -> None:
    counts = phase_counts([("sales", "Running"), ("sales", "Running"), ("support", "Failed")])
    assert counts[("sales", "Running")] == 2
    assert counts[("sales", "Failed")] == 0
    assert counts[("support", "Failed")] == 1
    assert counts[("support", "Succeeded")] == 0
    assert len(counts) == 10  # 2 namespaces x 5 phases
    emptied = phase_counts([], namespaces=["sales"])
    assert emptied == {
        ("sales", phase): 0 for phase in ("Pending", "Running", "Succeeded", "Failed", "Suspended")
    }


def test_worker_account_carries_cloud_identity_annotations_from_settings() -> None:
    spec = JobSpec.model_validate({"inputs": [{"url": "https://a/b.wav"}]})
    assert "annotations" not in build_worker_rbac("calls", "team", spec)[0]["metadata"]
    settings = OperatorSettings.model_validate(
        {
            "worker_service_account_annotations": {
                "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/w"
            }
        }
    )
    account, role, _ = build_worker_rbac(
        "calls", "team", spec, None, settings.worker_service_account_annotations
    )
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/w"
    }
    assert "annotations" not in role["metadata"]  # the identity is the account's alone


def test_settings_read_worker_annotations_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "WHISPER_OPERATOR_WORKER_SERVICE_ACCOUNT_ANNOTATIONS",
        '{"eks.amazonaws.com/role-arn": "arn:x"}',
    )
    assert OperatorSettings().worker_service_account_annotations == {
        "eks.amazonaws.com/role-arn": "arn:x"
    }
