"""The local control plane itself, against the real API: Jobs, Deployments, garbage
collection, validation, and what the node agent gives a pod."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest

from localcluster.kube import ApiError
from tests.clusterlib import LocalCluster, wait_for

pytestmark = pytest.mark.cluster


def job(name: str, script: str, backoff_limit: int = 0, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                    ],
                    **pod_spec,
                }
            },
        },
    }


def job_condition(cluster: LocalCluster, namespace: str, name: str) -> str | None:
    obj = cluster.kube.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
    for condition in obj.get("status", {}).get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None


def pods(cluster: LocalCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    items = cluster.kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)[
        "items"
    ]
    return list(items)


def test_jobs_complete_or_fail_after_their_backoff(cluster: LocalCluster, namespace: str) -> None:
    cluster.apply(namespace, job("works", "echo done"), job("breaks", "exit 3", backoff_limit=1))
    assert (
        wait_for(lambda: job_condition(cluster, namespace, "works"), what="job works") == "Complete"
    )
    assert (
        wait_for(lambda: job_condition(cluster, namespace, "breaks"), what="job breaks") == "Failed"
    )
    failed = pods(cluster, namespace, "job-name=breaks")
    assert len(failed) == 2  # the first try and one retry (backoffLimit 1)
    for pod in failed:
        assert pod["status"]["phase"] == "Failed"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 3
        assert terminated["reason"] == "Error"
    done = pods(cluster, namespace, "job-name=works")[0]
    assert done["status"]["phase"] == "Succeeded"
    assert cluster.logs(namespace, done["metadata"]["name"], "main") == "done\n"


def web_deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "http",
                            "image": "python:3.11-slim",
                            "command": [
                                "python3",
                                "-m",
                                "http.server",
                                "8080",
                                "--directory",
                                "/srv",
                            ],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": "http"},
                                "periodSeconds": 1,
                            },
                            "volumeMounts": [{"name": "page", "mountPath": "/srv"}],
                        }
                    ],
                    "volumes": [{"name": "page", "configMap": {"name": "page"}}],
                },
            },
        },
    }


def test_deployment_replicas_serve_on_their_own_ips_and_are_collected(
    cluster: LocalCluster, namespace: str
) -> None:
    page = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "page"},
        "data": {"index.html": "hi\n"},
    }
    cluster.apply(namespace, page, web_deployment(2))

    def ready_pods() -> list[dict[str, Any]]:
        found = pods(cluster, namespace, "app=web")
        ready = [
            p
            for p in found
            if all(c["ready"] for c in p["status"].get("containerStatuses", [{"ready": False}]))
        ]
        return ready if len(ready) == 2 else []

    running = wait_for(ready_pods, what="two ready replicas")
    addresses = {p["status"]["podIP"] for p in running}
    assert len(addresses) == 2  # same port, different pods, different IPs
    for address in addresses:
        assert httpx.get(f"http://{address}:8080/index.html", timeout=5).text == "hi\n"
    deployment = cluster.kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert deployment["status"]["readyReplicas"] == 2
    pids = [
        int(p["status"]["containerStatuses"][0]["containerID"].removeprefix("local://"))
        for p in running
    ]

    cluster.kubectl("delete", "-n", namespace, "deployment", "web", "--wait=false")
    wait_for(
        lambda: not pods(cluster, namespace, "app=web"),
        what="the garbage collector to remove the pods",
    )
    wait_for(
        lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), what="the processes to end"
    )


def test_invalid_objects_are_rejected_by_the_api_server(
    cluster: LocalCluster, namespace: str
) -> None:
    bad = web_deployment(-1)
    with pytest.raises(ApiError) as caught:
        cluster.kube.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", bad)
    assert caught.value.status == 422
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in str(
        caught.value
    )
    result = cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input='{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}}',
        check=False,
    )
    assert result.returncode != 0
    assert "spec.containers: Required value" in result.stderr


def test_pods_get_env_files_and_a_working_service_account(
    cluster: LocalCluster, namespace: str
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"key": "s3cr3t"},
    }
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"MODE": "fast"},
    }
    # The pod calls the API with its mounted token: 403 (not 401) proves it authenticated.
    script = (
        "import os, ssl, urllib.request, urllib.error\n"
        "base = '/var/run/secrets/kubernetes.io/serviceaccount'\n"
        "token = open(base + '/token').read()\n"
        "env = os.environ\n"
        "host, port = env['KUBERNETES_SERVICE_HOST'], env['KUBERNETES_SERVICE_PORT']\n"
        "url = 'https://%s:%s/api/v1/nodes' % (host, port)\n"
        "ctx = ssl.create_default_context(cafile=base + '/ca.crt')\n"
        "req = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + token})\n"
        "try:\n    urllib.request.urlopen(req, context=ctx)\n"
        "except urllib.error.HTTPError as e:\n    print('api', e.code)\n"
        "print('secret', os.environ['SECRET_KEY'], open('/etc/creds/key').read())\n"
        "namespace = open(base + '/namespace').read()\n"
        "print('mode', env['MODE'], 'ip', env['MY_IP'], 'ns', namespace)\n"
        "open('/scratch/x', 'w').write('scratch ok'); print(open('/scratch/x').read())\n"
    )
    spec = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe-env"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.11",
                    "command": ["python3", "-c", script],
                    "env": [
                        {
                            "name": "SECRET_KEY",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}},
                        },
                        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "settings"}}],
                    "volumeMounts": [
                        {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
                        {"name": "scratch", "mountPath": "/scratch"},
                    ],
                }
            ],
            "volumes": [
                {"name": "creds", "secret": {"secretName": "creds"}},
                {"name": "scratch", "emptyDir": {}},
            ],
        },
    }
    cluster.apply(namespace, secret, settings, spec)
    path = f"/api/v1/namespaces/{namespace}/pods/probe-env"
    pod = wait_for(
        lambda: (
            (p := cluster.kube.get(path))["status"].get("phase") in ("Succeeded", "Failed") and p
        ),
        what="the pod to finish",
    )
    output = cluster.logs(namespace, "probe-env", "main")
    assert pod["status"]["phase"] == "Succeeded", output
    assert "api 403" in output
    assert "secret s3cr3t s3cr3t" in output
    assert f"mode fast ip {pod['status']['podIP']} ns {namespace}" in output
    assert "scratch ok" in output
    assert not os.path.exists("/scratch/x")  # the emptyDir was mounted in the pod only


def test_restarts_and_graceful_deletion(cluster: LocalCluster, namespace: str) -> None:
    crashing = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "crashing"},
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 0.2; exit 1"]}
            ]
        },
    }
    stubborn = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stubborn"},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            # Ignores SIGTERM: only the SIGKILL after the grace period stops it.
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"],
                }
            ],
        },
    }
    cluster.apply(namespace, crashing, stubborn)
    crash_path = f"/api/v1/namespaces/{namespace}/pods/crashing"

    def restarts() -> int:
        statuses = cluster.kube.get(crash_path)["status"].get("containerStatuses", [{}])
        return int(statuses[0].get("restartCount", 0))

    wait_for(lambda: restarts() >= 2, what="two restarts", timeout=30)
    status = cluster.kube.get(crash_path)["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    stubborn_path = f"/api/v1/namespaces/{namespace}/pods/stubborn"
    wait_for(
        lambda: cluster.kube.get(stubborn_path)["status"].get("phase") == "Running",
        what="stubborn running",
    )
    pid = int(
        cluster.kube.get(stubborn_path)["status"]["containerStatuses"][0][
            "containerID"
        ].removeprefix("local://")
    )
    started = time.monotonic()
    cluster.kubectl("delete", "-n", namespace, "pod", "stubborn", "--wait=false")
    wait_for(
        lambda: cluster.kube.get_or_none(stubborn_path) is None,
        what="the pod object to go",
        timeout=20,
    )
    elapsed = time.monotonic() - started
    assert not os.path.exists(f"/proc/{pid}")
    assert 1.5 <= elapsed <= 10, f"deleted after {elapsed:.1f} s; the grace period is 2 s"
