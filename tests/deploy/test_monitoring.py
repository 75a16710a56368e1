"""The chart's monitoring, proven with Debian's Prometheus: `promtool` checks and unit-tests
the PrometheusRule, and a real Prometheus scrapes the chart's operator and a pool through the
ServiceMonitor's and PodMonitor's selectors, evaluates the rules and answers every dashboard
panel's query with data after a short load."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from localcluster.layout import free_port
from tests.clusterlib import LocalCluster, wait_for
from tests.deploy.chartlib import CHART, helm, render
from tests.operatorlib import custom, wait_phase
from tests.speech import english_clips

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Debian's prometheus package is not installed (`make system-deps` installs it)",
)
MONITORING = [
    "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.podMonitor.enabled=true",
    "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.grafanaDashboard.enabled=true",
]  # fmt: skip
DASHBOARD = json.loads((CHART / "files" / "dashboards" / "whisper-prod.json").read_text())


def rule_groups() -> dict[str, Any]:
    rule = next(d for d in render(*MONITORING) if d["kind"] == "PrometheusRule")
    return rule["spec"]  # type: ignore[no-any-return]


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


SALES = {"namespace": "sales", "pool": "calls"}
POD = {**SALES, "pod": "calls-1"}


def alert(name: str, labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    return {
        "exp_labels": {"alertname": name, **labels},
        "exp_annotations": {"summary": summary, "description": description},
    }


@pytest.mark.unit
def test_promtool_checks_the_rules_and_each_alert_fires_only_when_it_should(
    tmp_path: Path,
) -> None:
    assert PROMTOOL is not None
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    check = subprocess.run(
        [PROMTOOL, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 7 rules found" in check.stdout
    bucket = "whisper_request_duration_seconds_bucket"
    audio = {**POD, "endpoint": "/v1/audio/transcriptions"}
    tests = [
        {  # not ready for 20 minutes: fires after 10; a ready pool never does
            "interval": "1m",
            "input_series": [
                series("whisper_operator_pool_ready", SALES, "1 0x20"),
                series("whisper_operator_pool_ready", {**SALES, "pool": "ok"}, "1x20"),
                series("up", {"job": "wp-whisper-prod-metrics"}, "1x30"),
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "WhisperPoolNotReady", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "WhisperPoolNotReady", "exp_alerts": [alert(
                    "WhisperPoolNotReady", {**SALES, "severity": "critical"},
                    "WhisperPool sales/calls has no ready replica",
                    "Requests to the pool fail and poolRef jobs wait. Look at: kubectl describe "
                    "wp calls -n sales, and its pods' events (image pull, GPU capacity, model download).",
                )]},
                {"eval_time": "15m", "alertname": "WhisperOperatorDown", "exp_alerts": []},
            ],
        },
        {  # two failed jobs appear, then are deleted
            "interval": "1m",
            "input_series": [
                series("whisper_operator_transcription_jobs", {"namespace": "sales", "phase": "Failed"}, "0 0 2 2 0"),
                series("whisper_operator_transcription_jobs", {"namespace": "sales", "phase": "Succeeded"}, "5x4"),
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "WhisperTranscriptionJobFailed", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "WhisperTranscriptionJobFailed", "exp_alerts": [alert(
                    "WhisperTranscriptionJobFailed", {"namespace": "sales", "severity": "warning"},
                    "2 TranscriptionJob(s) failed in sales",
                    "kubectl get tj -n sales lists them; status.results names each failed input and "
                    "why. Deleting a failed job (or its ttlSecondsAfterFinished) clears the alert.",
                )]},
                {"eval_time": "4m", "alertname": "WhisperTranscriptionJobFailed", "exp_alerts": []},
                # No operator target at all is as bad as a down one.
                {"eval_time": "12m", "alertname": "WhisperOperatorDown", "exp_alerts": [alert(
                    "WhisperOperatorDown", {"severity": "critical"},
                    "No whisper-prod operator is being scraped",
                    "New TranscriptionJobs and WhisperPools are not reconciled. kubectl get pods "
                    "-l app.kubernetes.io/component=operator -A",
                )]},
            ],
        },
        {  # one pod full for 20 minutes, one at a quarter
            "interval": "1m",
            "input_series": [
                series("whisper_requests_in_flight", POD, "8x20"),
                series("whisper_queue_capacity", POD, "8x20"),
                series("whisper_requests_in_flight", {**POD, "pod": "calls-2"}, "2x20"),
                series("whisper_queue_capacity", {**POD, "pod": "calls-2"}, "8x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "WhisperQueueSaturated", "exp_alerts": [alert(
                    "WhisperQueueSaturated", {**POD, "severity": "warning"},
                    "Pod sales/calls-1 of pool calls is near its admission limit",
                    "100% of its admission limit is in use; beyond it clients get 429. Add replicas "
                    "(spec.replicas or spec.autoscaling.maxReplicas) or GPU pools.",
                )]},
            ],
        },
        {  # every request of the last half hour took between 60 and 120 s
            "interval": "1m",
            "input_series": [
                series(bucket, {**audio, "le": "60"}, "0x30"),
                series(bucket, {**audio, "le": "120"}, "0+10x30"),
                series(bucket, {**audio, "le": "+Inf"}, "0+10x30"),
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "WhisperLatencyHigh", "exp_alerts": []},
                {"eval_time": "25m", "alertname": "WhisperLatencyHigh", "exp_alerts": [alert(
                    "WhisperLatencyHigh", {**SALES, "severity": "warning"},
                    "Pool sales/calls answers slowly: p95 1m 57s",
                    "The 95th percentile of transcription requests stays above 60 s; a full queue "
                    "or a slow node is the usual cause.",
                )]},
            ],
        },
    ]  # fmt: skip
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests})
    )
    unit = subprocess.run(
        [PROMTOOL, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "SUCCESS" in unit.stdout


# --- a real Prometheus against the chart on the local control plane ---------------------------
# Debian builds Prometheus without Kubernetes service discovery, so the test discovers targets
# from the real API itself and hands them over as file_sd targets carrying the same
# __meta_kubernetes_* labels; the monitors' selectors and relabelings then run in Prometheus
# exactly as in the jobs the Prometheus Operator generates.


def _sanitized(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _keep_selected(role: str, match_labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"action": "keep", "source_labels": [f"__meta_kubernetes_{role}_label_{_sanitized(key)}"], "regex": value}
        for key, value in match_labels.items()
    ]  # fmt: skip


def pod_targets(cluster: LocalCluster) -> list[dict[str, Any]]:
    """What Kubernetes SD's pod role finds: one target per container port of a running pod."""
    targets = []
    for pod in cluster.kube.get("/api/v1/pods")["items"]:
        ip = pod.get("status", {}).get("podIP")
        if not ip or pod["status"].get("phase") != "Running":
            continue
        meta = {
            "__meta_kubernetes_namespace": pod["metadata"]["namespace"],
            "__meta_kubernetes_pod_name": pod["metadata"]["name"],
            **{
                f"__meta_kubernetes_pod_label_{_sanitized(k)}": v
                for k, v in (pod["metadata"].get("labels") or {}).items()
            },
        }
        for container in pod["spec"]["containers"]:
            for port in container.get("ports", []):
                targets.append({
                    "targets": [f"{ip}:{port['containerPort']}"],
                    "labels": {**meta, "__meta_kubernetes_pod_container_name": container["name"],
                               "__meta_kubernetes_pod_container_port_name": port.get("name", "")},
                })  # fmt: skip
    return targets


def endpoint_targets(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    """What Kubernetes SD's endpoints role finds: one target per ready address and port of a
    Service (read from its EndpointSlices), with the Service's labels."""
    targets = []
    services = {
        svc["metadata"]["name"]: svc
        for svc in cluster.kube.get(f"/api/v1/namespaces/{namespace}/services")["items"]
    }
    slices = cluster.kube.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices")
    for endpoint_slice in slices["items"]:
        service = services.get(
            endpoint_slice["metadata"]["labels"].get("kubernetes.io/service-name", "")
        )
        if service is None:
            continue
        meta = {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_service_name": service["metadata"]["name"],
            **{
                f"__meta_kubernetes_service_label_{_sanitized(k)}": v
                for k, v in (service["metadata"].get("labels") or {}).items()
            },
        }
        for endpoint in endpoint_slice.get("endpoints") or []:
            if not endpoint.get("conditions", {}).get("ready"):
                continue
            for port in endpoint_slice.get("ports") or []:
                targets.append({
                    "targets": [f"{endpoint['addresses'][0]}:{port['port']}"],
                    "labels": {**meta, "__meta_kubernetes_endpoint_port_name": port.get("name", ""),
                               "__meta_kubernetes_pod_name": endpoint.get("targetRef", {}).get("name", "")},
                })  # fmt: skip
    return targets


def service_monitor_job(monitor: dict[str, Any], targets_file: Path) -> dict[str, Any]:
    """The scrape job the Prometheus Operator generates for a ServiceMonitor (the subset of
    its fields the chart uses); 1 s scrapes instead of the chart's interval, for a fast test."""
    namespace = monitor["metadata"]["namespace"]
    endpoint = monitor["spec"]["endpoints"][0]
    return {
        "job_name": f"serviceMonitor/{namespace}/{monitor['metadata']['name']}/0",
        "scrape_interval": "1s",
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
        "relabel_configs": [
            *_keep_selected("service", monitor["spec"]["selector"]["matchLabels"]),
            {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": endpoint["port"]},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"},
        ],
    }  # fmt: skip


def pod_monitor_job(monitor: dict[str, Any], targets_file: Path) -> dict[str, Any]:
    """The scrape job the Prometheus Operator generates for a PodMonitor, with its relabelings."""
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    relabelings = [
        {"source_labels": r["sourceLabels"], "target_label": r["targetLabel"]}
        for r in endpoint.get("relabelings", [])
    ]
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    return {
        "job_name": f"podMonitor/{namespace}/{name}/0",
        "scrape_interval": "1s",
        "metrics_path": endpoint["path"],
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
        "relabel_configs": [
            *_keep_selected("pod", monitor["spec"]["selector"]["matchLabels"]),
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": endpoint["port"]},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": f"{namespace}/{name}"},
            *relabelings,
        ],
    }  # fmt: skip


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("query", query=expr)["result"]  # type: ignore[no-any-return]


@pytest.fixture
def prometheus(
    crds: LocalCluster, namespace: str, tmp_path: Path
) -> Iterator[tuple[Prometheus, Path]]:
    """Prometheus with the chart's monitors and rules, as the chart renders them for a release
    in this namespace; the caller installs that release."""
    assert PROMETHEUS is not None
    docs = render("--namespace", namespace, *MONITORING)
    kinds = {d["kind"]: d for d in docs}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(kinds["PrometheusRule"]["spec"]))
    pods_file, services_file = tmp_path / "pods.json", tmp_path / "services.json"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "scrape_configs": [
            service_monitor_job(kinds["ServiceMonitor"], services_file),
            pod_monitor_job(kinds["PodMonitor"], pods_file),
        ],
    }
    stop = threading.Event()

    def discover() -> None:
        while not stop.wait(1):
            for path, targets in (
                (pods_file, pod_targets(crds)),
                (services_file, endpoint_targets(crds, namespace)),
            ):
                path.with_suffix(".tmp").write_text(json.dumps(targets))
                path.with_suffix(".tmp").replace(path)  # atomically, as file_sd expects

    discovery = threading.Thread(target=discover, daemon=True)
    discovery.start()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [PROMETHEUS, "--config.file=prometheus.yml", "--storage.tsdb.path=data",
             f"--web.listen-address=127.0.0.1:{port}"],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout=30, what="Prometheus ready")
        yield Prometheus(url), tmp_path / "prometheus.log"
    finally:
        stop.set()
        discovery.join()
        process.terminate()
        process.wait(timeout=20)


def panel_queries(namespace: str) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target, with the dashboard's variables as Grafana would
    fill them for this namespace and every pool."""
    queries = []
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            expr = (
                target["expr"]
                .replace("$__rate_interval", "1m")
                .replace("$namespace", namespace)
                .replace("$pool", ".*")
            )
            queries.append((panel["title"], expr))
    return queries


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


@pytest.mark.cluster
@pytest.mark.slow
def test_prometheus_scrapes_the_chart_and_every_panel_shows_data(
    crds: LocalCluster,
    namespace: str,
    audio_base_url: str,
    without_session_operator: None,
    prometheus: tuple[Prometheus, Path],
) -> None:
    server, log = prometheus
    helm(
        crds, "install", "wp", str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
        "--set", "crds.enabled=false", "--set", f"operator.watchNamespaces={{{namespace}}}",
        "--set", "defaultPool.enabled=true", "--set", "defaultPool.spec.model=tiny.en",
    )  # fmt: skip
    pool = custom(crds, namespace, "whisperpools", "default")
    wait_for(
        lambda: any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in crds.kube.get(pool).get("status", {}).get("conditions", [])
        ),
        timeout=120,
        what="the chart's default pool to be Ready",
    )
    # Both monitors find their targets through the real API, and both are up.
    wait_for(
        lambda: (
            {t["labels"]["job"]: t["health"] for t in server.get("targets")["activeTargets"]}
            == {"wp-whisper-prod-metrics": "up", f"{namespace}/wp-whisper-prod-pools": "up"}
        ),
        timeout=60,
        what=f"operator and pool targets up (log: {log})",
    )

    # A short load: calls through the OpenAI client, one corrupt upload, and two jobs
    # through the pool, one of which fails on a missing file.
    slices = crds.kube.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
        labelSelector="kubernetes.io/service-name=default",
    )["items"]
    address = slices[0]["endpoints"][0]["addresses"][0]
    client = openai.OpenAI(base_url=f"http://{address}:8000/v1", api_key="none", max_retries=0)
    clips = english_clips()[:3]
    for clip in clips:
        assert client.audio.transcriptions.create(model="whisper-1", file=clip.path).text
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="whisper-1", file=("bad.wav", b"not audio"))
    for name, inputs in (
        ("fine", [f"{audio_base_url}/{clip.path.name}" for clip in clips[:2]]),
        ("missing", [f"{audio_base_url}/no-such-call.wav"]),
    ):
        crds.apply(namespace, {
            "apiVersion": "whisperprod.io/v1alpha1", "kind": "TranscriptionJob",
            "metadata": {"name": name},
            "spec": {"poolRef": {"name": "default"}, "inputs": [{"url": url} for url in inputs]},
        })  # fmt: skip
    assert wait_phase(crds, namespace, "fine", ("Succeeded", "Failed"))["status"]["phase"] == (
        "Succeeded"
    )
    assert wait_phase(crds, namespace, "missing", ("Succeeded", "Failed"))["status"]["phase"] == (
        "Failed"
    )

    # Every rule evaluates without error, and the failed job fires its alert.
    def rules_healthy() -> bool:
        rules = [r for g in server.get("rules")["groups"] for r in g["rules"]]
        return len(rules) == 7 and all(r["health"] == "ok" for r in rules)

    wait_for(rules_healthy, timeout=30, what="every rule evaluated without error")
    firing = wait_for(
        lambda: server.query(
            'ALERTS{alertname="WhisperTranscriptionJobFailed",alertstate="firing"}'
        ),
        timeout=30,
        what="WhisperTranscriptionJobFailed firing for the failed job",
    )
    assert firing[0]["metric"]["namespace"] == namespace
    assert not server.query('ALERTS{alertname=~"WhisperPoolNotReady|WhisperOperatorDown"}')

    # Every dashboard panel's query returns data (a finite value) from this Prometheus.
    def empty_panels() -> list[str]:
        return [
            f"{title}: {expr}"
            for title, expr in panel_queries(namespace)
            if not has_finite_value(server.query(expr))
        ]

    try:
        wait_for(lambda: not empty_panels(), timeout=30, what="data for every panel")
    except AssertionError:
        raise AssertionError(f"panels without data: {empty_panels()}") from None
    # The dashboard's variables list this namespace and pool.
    namespaces = server.get("label/namespace/values", **{"match[]": "whisper_requests_total"})
    assert namespace in namespaces
    assert "default" in server.get("label/pool/values", **{"match[]": "whisper_requests_total"})
    # Uninstalling deletes the default pool first (pre-delete hook) while the operator still
    # runs to finalize it; deleted together with the operator it would hang in Terminating.
    helm(crds, "uninstall", "wp", "--namespace", namespace, "--wait", "--timeout", "120s")
    assert crds.kube.get_or_none(pool) is None
