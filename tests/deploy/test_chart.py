"""The Helm chart: lint, render, server-side dry-run on the real API, and an install whose
operator (running as a pod under the chart's RBAC) finishes a TranscriptionJob."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.clusterlib import LocalCluster, wait_for
from tests.deploy.chartlib import CHART, helm, render
from tests.operatorlib import wait_phase
from tests.speech import english_clips, word_error_rate

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ALL_OPTIONS = {
    "crds": {"enabled": True, "keep": False},
    "operator": {
        "replicas": 2, "watchNamespaces": ["sales"], "verbose": True,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "extraEnv": [{"name": "WHISPER_OPERATOR_STATUS_INTERVAL_SECONDS", "value": "5"}],
    },
    "runtime": {"workerServiceAccountAnnotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/workers"}},
    "imagePullSecrets": [{"name": "registry"}],
    "metrics": {
        "additionalLabels": {"release": "kube-prometheus-stack"},
        "serviceMonitor": {"enabled": True, "interval": "15s"}, "podMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "latencyP95Seconds": 30},
        "grafanaDashboard": {"enabled": True, "labels": {"grafana_dashboard": "1"}},
    },
    "networkPolicy": {"enabled": True},
    "defaultPool": {"enabled": True, "name": "shared", "spec": {"model": "tiny.en", "replicas": 1}},
}  # fmt: skip


@pytest.fixture(scope="module")
def all_options(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("values") / "all-options.yaml"
    path.write_text(yaml.safe_dump(ALL_OPTIONS))
    return path


def test_lint_and_schema(all_options: Path) -> None:
    helm(None, "lint", str(CHART))
    helm(None, "lint", str(CHART), "-f", str(all_options))
    refused = helm(None, "template", "x", str(CHART), "--set", "operator.bogus=1", check=False)
    assert refused.returncode != 0
    assert "additional properties 'bogus' not allowed" in refused.stderr


def test_rendered_objects(all_options: Path) -> None:
    docs = [d for d in yaml.safe_load_all(helm(None, "template", "wp", str(CHART)).stdout) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == 4
    crd = next(d for d in docs if d["metadata"]["name"] == "transcriptionjobs.whisperprod.io")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["port"] == "health"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WHISPER_OPERATOR_RUNTIME_IMAGE"] == "ghcr.io/whisper-prod/runtime:0.1.0"
    everything = [
        d
        for d in yaml.safe_load_all(
            helm(None, "template", "wp", str(CHART), "-f", str(all_options)).stdout
        )
        if d
    ]
    assert {
        "ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy",
        "WhisperPool", "KopfPeering",
    } <= {d["kind"] for d in everything}  # fmt: skip
    for monitoring in (
        d
        for d in everything
        if d["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap")
    ):
        assert monitoring["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not any(
        "helm.sh/resource-policy" in (d["metadata"].get("annotations") or {}) for d in everything
    )
    multi = next(d for d in everything if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert {"name": "WHISPER_OPERATOR_STANDALONE", "value": "false"} in multi["env"]
    assert {
        "name": "WHISPER_OPERATOR_WORKER_SERVICE_ACCOUNT_ANNOTATIONS",
        "value": '{"eks.amazonaws.com/role-arn":"arn:aws:iam::123456789012:role/workers"}',
    } in multi["env"]


def test_server_side_dry_run(crds: LocalCluster, namespace: str, all_options: Path) -> None:
    for values in ([], ["-f", str(all_options)]):
        # Watch the test's namespace: the peering objects live in the watched namespaces.
        rendered = helm(
            None, "template", "wp", str(CHART), "--namespace", namespace, *values,
            "--set", f"operator.watchNamespaces={{{namespace}}}",
        ).stdout  # fmt: skip
        # The Prometheus Operator's kinds are not installed on this control plane.
        docs = [
            d
            for d in yaml.safe_load_all(rendered)
            if d and d["apiVersion"] != "monitoring.coreos.com/v1"
        ]
        result = crds.kubectl(
            "apply", "--server-side", "--dry-run=server", "--force-conflicts", "-n", namespace, "-f", "-",
            input=yaml.safe_dump_all(docs),
        )  # fmt: skip
        assert "serverside-applied (server dry run)" in result.stdout


def test_install_runs_the_operator_as_a_pod(
    crds: LocalCluster, namespace: str, audio_base_url: str, without_session_operator: None
) -> None:
    # Two replicas: Kopf peering keeps one active (the chart creates the peering object).
    helm(
        crds, "install", "wp", str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
        "--set", "crds.enabled=false", "--set", f"operator.watchNamespaces={{{namespace}}}",
        "--set", "operator.replicas=2",
    )  # fmt: skip
    pods = crds.kube.get(
        f"/api/v1/namespaces/{namespace}/pods", labelSelector="app.kubernetes.io/component=operator"
    )
    assert [p["status"]["phase"] for p in pods["items"]] == ["Running", "Running"]
    peering = f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/whisper-prod"
    wait_for(
        lambda: len(crds.kube.get(peering).get("status") or {}) == 2,
        what="both replicas announced in the peering object",
    )
    # The demo's pool and job from examples/, the bundled calls served to the pods.
    demo = CHART.parent.parent / "examples" / "demo"
    crds.kubectl("apply", "-n", namespace, "-f", str(demo / "whisperpool.yaml"))
    job = (demo / "transcriptionjob.yaml").read_text().replace("${AUDIO_BASE_URL}", audio_base_url)
    crds.kubectl("apply", "-n", namespace, "-f", "-", input=job)
    obj = wait_phase(crds, namespace, "demo-calls", ("Succeeded", "Failed"))
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    clips = english_clips()
    texts = {r["input"]: r["text"] for r in obj["status"]["results"]}
    assert len(texts) == 8
    assert (
        word_error_rate(
            [c.text for c in clips], [texts[f"{audio_base_url}/{c.path.name}"] for c in clips]
        )
        <= 0.12
    )
    # One replica did the work: the other paused in favour of the higher priority.
    events = crds.kube.get(
        f"/api/v1/namespaces/{namespace}/events", fieldSelector="involvedObject.name=demo-calls"
    )
    assert [e["reason"] for e in events["items"]].count("WorkersCreated") == 1
    helm(crds, "uninstall", "wp", "--namespace", namespace, "--wait")


def test_argocd_applications_point_at_what_exists(tmp_path: Path) -> None:
    """The Argo CD example's values pass the chart's schema, its workloads' files exist, and
    the chart syncs in an earlier wave than the workloads."""
    examples = CHART.parent.parent / "examples"
    apps = list(yaml.safe_load_all((examples / "argocd" / "apps.yaml").read_text()))
    chart_app = next(a for a in apps if a["spec"]["source"]["path"] == "charts/whisper-prod")
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(chart_app["spec"]["source"]["helm"]["valuesObject"]))
    kinds = {d["kind"] for d in render("-f", str(values))}
    assert {"CustomResourceDefinition", "Deployment", "ClusterRole"} <= kinds
    workloads = next(a for a in apps if a["spec"]["source"]["path"] == "examples")
    include = workloads["spec"]["source"]["directory"]["include"].strip("{}").split(",")
    assert [name for name in include if not (examples / name).is_file()] == []
    waves = [
        int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in (chart_app, workloads)
    ]
    assert waves[0] < waves[1]
