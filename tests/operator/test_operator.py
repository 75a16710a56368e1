"""The operator end to end on the real control plane, with the runtime doing the work."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from localcluster.kube import ApiError
from tests.clusterlib import LocalCluster, wait_for
from tests.operatorlib import OperatorProcess, custom, wait_phase
from tests.s3lib import S3Server
from tests.speech import english_clips, word_error_rate

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
API = "whisperprod.io/v1alpha1"


def pool(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "WhisperPool",
        "metadata": {"name": name},
        "spec": {
            "model": "tiny.en",
            "replicas": replicas,
            "resources": {"requests": {"cpu": "100m"}},
        },
    }


def transcription_job(name: str, inputs: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "TranscriptionJob",
        "metadata": {"name": name},
        "spec": {"model": "tiny.en", "inputs": inputs, **spec},
    }


def test_bad_manifests_are_rejected_with_what_to_fix(crds: LocalCluster, namespace: str) -> None:
    jobs = custom(crds, namespace, "transcriptionjobs")
    cases = [
        ({"inputs": [{"url": "https://a/b.wav", "s3": "s3://b/k"}]}, "each input needs exactly one of url, s3 or pvc"),
        ({"inputs": []}, "should have at least 1 items"),
        ({"inputs": [{"url": "ftp://a/b.wav"}]}, "should match '^https?://'"),
        ({"inputs": [{"url": "https://a/b.wav"}], "task": "summarize"}, 'Unsupported value: "summarize"'),
    ]  # fmt: skip
    for spec, message in cases:
        with pytest.raises(ApiError) as caught:
            crds.kube.create(
                jobs,
                {
                    "apiVersion": API,
                    "kind": "TranscriptionJob",
                    "metadata": {"name": "bad"},
                    "spec": spec,
                },
            )
        assert caught.value.status == 422
        assert message in str(caught.value)
    bad_pool = pool("bad")
    bad_pool["spec"]["autoscaling"] = {"minReplicas": 4, "maxReplicas": 2}
    with pytest.raises(ApiError, match="minReplicas must not exceed autoscaling.maxReplicas"):
        crds.kube.create(custom(crds, namespace, "whisperpools"), bad_pool)
    # Running jobs keep their inputs.
    crds.kube.create(jobs, transcription_job("fixed", [{"url": "https://a/1.wav"}], suspend=True))
    with pytest.raises(ApiError, match="inputs cannot change"):
        crds.kube.merge_patch(f"{jobs}/fixed", {"spec": {"inputs": [{"url": "https://a/2.wav"}]}})


def test_pool_serves_scales_and_is_collected(
    operator: OperatorProcess, crds: LocalCluster, namespace: str
) -> None:
    crds.apply(namespace, pool("sales"))
    path = custom(crds, namespace, "whisperpools", "sales")

    def ready() -> dict[str, Any] | None:
        obj = crds.kube.get(path)
        conditions = obj.get("status", {}).get("conditions", [])
        return (
            obj if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None
        )

    obj = wait_for(ready, timeout=120, what="the pool to be Ready")
    assert obj["status"]["endpoint"] == f"http://sales.{namespace}.svc:8000"
    slices = crds.kube.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                           labelSelector="kubernetes.io/service-name=sales")["items"]  # fmt: skip
    address = slices[0]["endpoints"][0]["addresses"][0]
    client = openai.OpenAI(base_url=f"http://{address}:8000/v1", api_key="none", max_retries=0)
    clip = english_clips()[2]
    text = client.audio.transcriptions.create(model="whisper-1", file=clip.path).text
    assert word_error_rate([clip.text], [text]) <= 0.15

    # kubectl scale goes through the scale subresource; the Deployment follows.
    crds.kubectl("scale", "-n", namespace, "wp/sales", "--replicas=2")
    wait_for(
        lambda: crds.kube.get(path).get("status", {}).get("readyReplicas") == 2,
        timeout=120,
        what="2 ready",
    )
    deployment = crds.kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/sales")
    assert deployment["spec"]["replicas"] == 2
    assert crds.kube.get_or_none(
        f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/sales"
    )
    printed = crds.kubectl("get", "wp", "-n", namespace).stdout
    assert "tiny.en" in printed
    assert f"http://sales.{namespace}.svc:8000" in printed

    crds.kubectl("delete", "-n", namespace, "wp/sales", "--wait=false")
    wait_for(lambda: crds.kube.get_or_none(f"/apis/apps/v1/namespaces/{namespace}/deployments/sales") is None,
             what="the Deployment to be collected")  # fmt: skip
    wait_for(
        lambda: not crds.kube.get(f"/api/v1/namespaces/{namespace}/pods")["items"], what="pods gone"
    )
    assert crds.kube.get_or_none(f"/api/v1/namespaces/{namespace}/services/sales") is None


def test_job_with_a_missing_input_fails_with_the_right_counts(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, audio_base_url: str
) -> None:
    clips = english_clips()[:2]
    inputs = [{"url": f"{audio_base_url}/{c.path.name}"} for c in clips]
    inputs.append({"url": f"{audio_base_url}/missing.wav"})
    started = time.monotonic()
    crds.apply(namespace, transcription_job("calls", inputs, maxRetries=1))
    jobs_path = f"/apis/batch/v1/namespaces/{namespace}/jobs/calls-workers"
    wait_for(lambda: crds.kube.get_or_none(jobs_path), what="the worker Job")
    to_job = time.monotonic() - started
    obj = wait_phase(crds, namespace, "calls", ("Succeeded", "Failed"))
    to_done = time.monotonic() - started
    print(f"3-input job: apply to Job created {to_job:.1f} s, to finished {to_done:.1f} s")
    status = obj["status"]
    assert status["phase"] == "Failed"
    assert (status["total"], status["succeeded"], status["failed"]) == (3, 2, 1)
    results = {r["input"]: r for r in status["results"]}
    for clip in clips:
        result = results[f"{audio_base_url}/{clip.path.name}"]
        assert result["state"] == "Succeeded"
        assert word_error_rate([clip.text], [result["text"]]) <= 0.15
    missing = results[f"{audio_base_url}/missing.wav"]
    assert missing["state"] == "Failed"
    assert "404" in missing["error"]
    assert missing["attempts"] == 2
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True"
    assert "missing.wav" in failed["message"]
    assert status["audioSeconds"] > 5
    assert status["completionTime"]
    described = crds.kubectl("describe", "tj", "-n", namespace, "calls").stdout
    assert "WorkersCreated" in described
    assert "1 of 3 inputs failed" in described
    # Deleting the job removes its workers and their permissions.
    crds.kubectl("delete", "-n", namespace, "tj/calls", "--wait=true", "--timeout=60s")
    wait_for(
        lambda: crds.kube.get_or_none(jobs_path) is None, what="the worker Job to be collected"
    )
    assert (
        crds.kube.get_or_none(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/calls-worker"
        )
        is None
    )


def test_job_through_a_pool(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, audio_base_url: str
) -> None:
    clips = english_clips()[3:6]
    keys = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pool-keys"},
        "stringData": {"api-keys": "sk-team,sk-other"},
    }
    shared = pool("shared", replicas=2)
    shared["spec"]["apiKeySecretRef"] = {"name": "pool-keys"}
    crds.apply(
        namespace,
        keys,
        shared,
        transcription_job("pooled", [{"url": f"{audio_base_url}/{c.path.name}"} for c in clips],
                          poolRef={"name": "shared"}, parallelism=2),
    )  # fmt: skip
    obj = wait_phase(crds, namespace, "pooled", ("Succeeded", "Failed"), timeout=240)
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    texts = {r["input"]: r["text"] for r in obj["status"]["results"]}
    hypotheses = [texts[f"{audio_base_url}/{c.path.name}"] for c in clips]
    assert word_error_rate([c.text for c in clips], hypotheses) <= 0.12
    # The workers loaded no model: the pool's pods did the work, with the pool's API key.
    pods = crds.kube.get(
        f"/api/v1/namespaces/{namespace}/pods", labelSelector="whisperprod.io/pool=shared"
    )["items"]
    pod_logs = "".join(crds.logs(namespace, p["metadata"]["name"], "runtime") for p in pods)
    assert pod_logs.count('"path": "/v1/audio/transcriptions", "status": 200') >= 3
    address = pods[0]["status"]["podIP"]
    assert (
        httpx.get(f"http://{address}:8000/v1/models", timeout=5).status_code == 401
    )  # keys required
    role = crds.kube.get(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/pooled-worker"
    )
    assert {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["pool-keys"],
        "verbs": ["get"],
    } in role["rules"]


def test_suspend_and_a_restarted_operator(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, audio_base_url: str
) -> None:
    clips = english_clips()
    inputs = [{"url": f"{audio_base_url}/{c.path.name}"} for c in clips]
    crds.apply(namespace, transcription_job("later", inputs, suspend=True))
    wait_phase(crds, namespace, "later", ("Suspended",))
    assert (
        crds.kube.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/later-workers")["spec"][
            "suspend"
        ]
        is True
    )
    crds.kube.merge_patch(
        custom(crds, namespace, "transcriptionjobs", "later"), {"spec": {"suspend": False}}
    )
    wait_phase(crds, namespace, "later", ("Running",))
    # The operator goes away in the middle of the job and comes back.
    operator.stop()
    time.sleep(3)
    operator.start()
    obj = wait_phase(crds, namespace, "later", ("Succeeded", "Failed"), timeout=240)
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    inputs_seen = [r["input"] for r in obj["status"]["results"]]
    assert sorted(inputs_seen) == sorted(
        i["url"] for i in inputs
    )  # each once: none lost, none twice
    assert obj["status"]["succeeded"] == len(clips)


def test_s3_prefix_in_and_transcripts_out(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, s3_server: S3Server
) -> None:
    """Workers list a prefix and read objects from S3 and write transcripts back; the
    endpoint and keys come from the namespace's worker env Secret (on EKS: IRSA). A corrupt
    recording and a missing object fail alone."""
    bucket = f"calls-{namespace[-6:]}"
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    clips = english_clips()[:2]
    for clip in clips:
        client.put_object(
            Bucket=bucket, Key=f"audio/day1/{clip.path.name}", Body=clip.path.read_bytes()
        )
    client.put_object(Bucket=bucket, Key="audio/day1/zz-corrupt.wav", Body=b"RIFF not really")
    crds.apply(namespace, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "whisper-worker-env"},
        "stringData": s3_server.env(crds.layout.node_ip),
    })  # fmt: skip
    crds.apply(namespace, transcription_job(
        "from-s3",
        [{"s3": f"s3://{bucket}/audio/day1/"}, {"s3": f"s3://{bucket}/audio/missing.wav"}],
        output={"s3": f"s3://{bucket}/transcripts/"}, maxRetries=0,
    ))  # fmt: skip
    obj = wait_phase(crds, namespace, "from-s3", ("Succeeded", "Failed"))
    status = obj["status"]
    assert status["phase"] == "Failed"  # two inputs failed; the two calls did not
    assert (status["total"], status["succeeded"], status["failed"]) == (4, 2, 2)
    results = {r["input"]: r for r in status["results"]}
    assert "invalid audio" in results[f"s3://{bucket}/audio/day1/zz-corrupt.wav"]["error"]
    assert "NoSuchKey" in results[f"s3://{bucket}/audio/missing.wav"]["error"]
    texts = [results[f"s3://{bucket}/audio/day1/{c.path.name}"]["text"] for c in clips]
    assert word_error_rate([c.text for c in clips], texts) <= 0.12
    written = {
        o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="transcripts/")["Contents"]
    }
    for clip in clips:
        stem = results[f"s3://{bucket}/audio/day1/{clip.path.name}"]["output"]
        assert stem.startswith(f"s3://{bucket}/transcripts/")
        key = stem.removeprefix(f"s3://{bucket}/")
        assert {f"{key}.{ext}" for ext in ("json", "txt", "srt", "vtt")} <= written
    assert len(written) == 8  # nothing for the failed inputs


def test_pvc_inputs_with_a_glob_and_an_output_claim(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    recordings, transcripts = tmp_path / "recordings", tmp_path / "transcripts"
    (recordings / "2026-11-24").mkdir(parents=True)
    transcripts.mkdir()
    clips = english_clips()[:2]
    for clip in clips:
        shutil.copy(clip.path, recordings / "2026-11-24" / clip.path.name)
    volumes: list[dict[str, Any]] = []
    for name, folder in (("recordings", recordings), ("transcripts", transcripts)):
        volumes.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"{namespace}-{name}"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "hostPath": {"path": str(folder)},
                    "claimRef": {"namespace": namespace, "name": name},
                },
            }
        )
        volumes.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "",
                     "resources": {"requests": {"storage": "1Gi"}}, "volumeName": f"{namespace}-{name}"},
        })  # fmt: skip
    crds.apply(namespace, *volumes)
    job = transcription_job(
        "from-claim", [{"pvc": {"claimName": "recordings", "path": "2026-11-24/*.wav"}}],
        output={"pvc": {"claimName": "transcripts", "path": "out"}}, ttlSecondsAfterFinished=3,
    )  # fmt: skip
    crds.apply(namespace, job)
    obj = wait_phase(crds, namespace, "from-claim", ("Succeeded", "Failed"))
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    results = {r["input"]: r for r in obj["status"]["results"]}
    assert sorted(results) == [f"pvc://recordings/2026-11-24/{c.path.name}" for c in clips]
    for clip in clips:
        result = results[f"pvc://recordings/2026-11-24/{clip.path.name}"]
        assert word_error_rate([clip.text], [result["text"]]) <= 0.15
        written = Path(result["output"].replace("/output", str(transcripts), 1))
        assert written.with_suffix(".srt").read_text().startswith("1\n00:00:0")
        assert clip.text.split()[1].lower() in written.with_suffix(".txt").read_text().lower()
    # ttlSecondsAfterFinished: the finished job goes away by itself.
    path = custom(crds, namespace, "transcriptionjobs", "from-claim")
    wait_for(
        lambda: crds.kube.get_or_none(path) is None, timeout=30, what="the TTL to delete the job"
    )


def test_operator_metrics_and_health(
    operator: OperatorProcess, crds: LocalCluster, namespace: str, audio_base_url: str
) -> None:
    clip = english_clips()[0]
    crds.apply(
        namespace, transcription_job("counted", [{"url": f"{audio_base_url}/{clip.path.name}"}])
    )
    wait_phase(crds, namespace, "counted", ("Succeeded",))
    health = httpx.get(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=5)
    assert health.status_code == 200
    metrics_url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    metrics = httpx.get(metrics_url, timeout=5).text
    assert 'whisper_operator_reconciles_total{kind="TranscriptionJob",result="ok"}' in metrics
    succeeded = f'whisper_operator_transcription_jobs{{namespace="{namespace}",phase="Succeeded"}}'
    assert f"{succeeded} 1.0" in metrics
    assert "whisper_operator_apply_to_job_seconds_count" in metrics
    # A deleted job leaves the gauge: a Failed one would otherwise alert forever.
    crds.kubectl("delete", "-n", namespace, "transcriptionjob", "counted", "--wait=true")
    wait_for(
        lambda: f"{succeeded} 0.0" in httpx.get(metrics_url, timeout=5).text,
        what="the deleted job leaves the phase gauge",
    )
