"""The operator on the session's control plane: CRDs installed, `whisper-operator` running
as a process (restartable), and the speech fixtures served over HTTP to the pods."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.layout import free_port
from tests.clusterlib import LocalCluster, wait_for
from tests.speech import SPEECH_DIR

ROOT = Path(__file__).resolve().parent.parent


class OperatorProcess:
    def __init__(self, cluster: LocalCluster, log_path: Path) -> None:
        self.cluster = cluster
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.health_port = free_port()

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "WHISPER_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "WHISPER_OPERATOR_LIVENESS_ENDPOINT": f"http://127.0.0.1:{self.health_port}/healthz",
            "WHISPER_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
            "WHISPER_OPERATOR_RUNTIME_IMAGE": "ghcr.io/whisper-prod/runtime:test",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "whisper_operator.main", "--standalone"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def crds(cluster: LocalCluster) -> LocalCluster:
    cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    return cluster


@pytest.fixture(scope="session")
def operator(
    crds: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(crds, tmp_path_factory.mktemp("operator") / "operator.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def without_session_operator(operator: OperatorProcess) -> Iterator[None]:
    """One operator at a time: a test that installs the chart's operator stops this one."""
    operator.stop()
    yield
    operator.start()


@pytest.fixture(scope="session")
def audio_base_url(cluster: LocalCluster) -> Iterator[str]:
    """The speech fixtures over HTTP on the Node's address, where pods can reach them."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SPEECH_DIR))
    server = http.server.ThreadingHTTPServer((cluster.layout.node_ip, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{cluster.layout.node_ip}:{server.server_address[1]}"
    server.shutdown()


def custom(cluster: LocalCluster, namespace: str, plural: str, name: str = "") -> str:
    path = f"/apis/whisperprod.io/v1alpha1/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


def wait_phase(
    cluster: LocalCluster, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 180
) -> dict:  # type: ignore[type-arg]
    path = custom(cluster, namespace, "transcriptionjobs", name)
    return wait_for(  # type: ignore[no-any-return]
        lambda: (obj := cluster.kube.get(path)).get("status", {}).get("phase") in phases and obj,
        timeout=timeout,
        what=f"TranscriptionJob {name} to reach {phases}",
    )
