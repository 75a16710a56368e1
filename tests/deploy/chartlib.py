"""The chart under test and the helm binary (built once by localcluster, like kubectl)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from localcluster.build import ensure_binaries
from tests.clusterlib import LocalCluster

CHART = Path(__file__).resolve().parent.parent.parent / "charts" / "whisper-prod"


def helm(
    cluster: LocalCluster | None, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    binaries = ensure_binaries(with_helm=True)
    assert binaries.helm is not None
    env = {**os.environ}
    if cluster is not None:
        env["KUBECONFIG"] = str(cluster.kubeconfig)
    result = subprocess.run(
        [str(binaries.helm), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*args: str) -> list[dict[str, Any]]:
    """`helm template wp CHART ARGS...` as a list of objects."""
    rendered = helm(None, "template", "wp", str(CHART), *args).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]
