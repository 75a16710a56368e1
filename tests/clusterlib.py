"""One local control plane per test session, and a namespace of its own for each test."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.build import Binaries, ensure_binaries
from localcluster.controlplane import start, stop
from localcluster.kube import Kube
from localcluster.layout import ClusterLayout
from localcluster.network import check_support, link_exists


@dataclass
class LocalCluster:
    layout: ClusterLayout
    binaries: Binaries
    kube: Kube

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binaries.kubectl), *args],
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
            input=input, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, namespace: str, *manifests: dict[str, Any]) -> None:
        self.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(manifests))

    def logs(self, namespace: str, pod: str, container: str) -> str:
        folders = sorted(self.layout.pods_dir.glob(f"{namespace}_{pod}_*"))
        return (folders[-1] / f"{container}.log").read_text() if folders else ""


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 60,
    interval: float = 0.3,
    what: str = "condition",
) -> Any:
    """Poll until `condition()` is truthy and return it; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _free_instance() -> int:
    for instance in range(1, 200):
        if not link_exists(f"wpbr{instance}"):
            return instance
    raise RuntimeError("no free bridge name wpbr1..wpbr199")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    problem = check_support()
    if problem is not None:
        pytest.skip(f"the local control plane runs pods in network namespaces: {problem}")
    binaries = ensure_binaries()
    layout = ClusterLayout.new(tmp_path_factory.mktemp("cluster"), _free_instance())
    try:
        start(layout, binaries)
    except Exception:
        stop(layout)
        raise
    kube = Kube(layout.kubeconfig)
    yield LocalCluster(layout, binaries, kube)
    kube.close()
    stop(layout)


@pytest.fixture
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{digest}"
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    cluster.kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    wait_for(
        lambda: cluster.kube.get_or_none(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
        what="the namespace's default service account",
    )
    yield name
    cluster.kube.delete(f"/api/v1/namespaces/{name}")
