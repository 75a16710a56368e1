"""The Argo CD health checks (Lua) against sample objects, in a real Lua 5.4 (lupa)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua54

pytestmark = pytest.mark.unit
ARGOCD = Path(__file__).resolve().parent.parent.parent / "examples" / "argocd"


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    """Run the script as Argo CD does: `obj` in scope, a table {status, message} back."""
    runtime = lua54.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return runtime.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([to_lua(v) for v in value])
        return value

    runtime.globals().obj = to_lua(obj)
    script = (ARGOCD / "health" / f"{kind}.lua").read_text()
    result = runtime.execute(script)
    return str(result["status"]), str(result["message"])


def job(phase: str | None, generation: int = 1, observed: int = 1, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"generation": generation}}
    if phase is not None:
        body["status"] = {"phase": phase, "observedGeneration": observed, **status}
    return body


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        (job(None), "Progressing", "waiting for the operator"),
        (job("Running", total=3, succeeded=1, failed=0), "Progressing", "Running: 1 of 3 inputs succeeded, 0 failed"),
        (job("Succeeded", total=3, succeeded=3, failed=0), "Healthy", "3 of 3 inputs succeeded, 0 failed"),
        (job("Failed", conditions=[{"type": "Failed", "status": "True", "message": "1 of 3 inputs failed"}]), "Degraded", "1 of 3 inputs failed"),
        (job("Suspended"), "Suspended", "spec.suspend is true"),
        (job("Succeeded", generation=2, observed=1), "Progressing", "the operator has not seen the latest spec yet"),
    ],
)  # fmt: skip
def test_transcription_job_health(obj: dict[str, Any], status: str, message: str) -> None:
    assert health("transcriptionjob", obj) == (status, message)


def pool(
    ready: tuple[str, str, str] | None, progressing: str = "False", generation: int = 1
) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"generation": generation}}
    if ready is not None:
        status, reason, message = ready
        body["status"] = {
            "observedGeneration": 1,
            "conditions": [
                {"type": "Ready", "status": status, "reason": reason, "message": message},
                {
                    "type": "Progressing",
                    "status": progressing,
                    "message": "1/2 pods run the current spec",
                },
            ],
        }
    return body


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        (pool(None), "Progressing"),
        (pool(("True", "ReplicasReady", "2/2 runtime pods ready")), "Healthy"),
        (pool(("True", "ReplicasReady", "2/2"), progressing="True"), "Progressing"),
        (pool(("False", "DeploymentMissing", "being created")), "Progressing"),
        (pool(("False", "NoReplicasReady", "0/2 ready"), progressing="True"), "Progressing"),
        (pool(("False", "NoReplicasReady", "0/2 ready")), "Degraded"),
        (pool(("False", "ScaledToZero", "replicas is 0")), "Suspended"),
        (pool(("True", "ReplicasReady", "2/2"), generation=2), "Progressing"),
    ],
)
def test_whisper_pool_health(obj: dict[str, Any], status: str) -> None:
    assert health("whisperpool", obj)[0] == status


def test_the_configmap_carries_the_same_scripts() -> None:
    data = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())["data"]
    for kind, key in (("whisperpool", "WhisperPool"), ("transcriptionjob", "TranscriptionJob")):
        script = (ARGOCD / "health" / f"{kind}.lua").read_text()
        assert data[f"resource.customizations.health.whisperprod.io_{key}"] == script


def test_applications_sync_the_chart_before_the_workloads() -> None:
    apps = list(yaml.safe_load_all((ARGOCD / "apps.yaml").read_text()))
    waves = {
        a["metadata"]["name"]: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in apps
    }
    assert waves["whisper-prod"] < waves["whisper-prod-workloads"]
    assert apps[0]["spec"]["source"]["path"] == "charts/whisper-prod"
