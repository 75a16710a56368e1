"""Every example manifest is accepted by the real API server (CRD schema and CEL rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clusterlib import LocalCluster

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
MANIFESTS = sorted([*EXAMPLES.glob("*.yaml"), *(EXAMPLES / "demo").glob("*.yaml")])
pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_example_passes_server_side_validation(
    crds: LocalCluster, namespace: str, manifest: Path
) -> None:
    text = manifest.read_text().replace("${AUDIO_BASE_URL}", "http://audio.example")
    result = crds.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=text)
    assert "(server dry run)" in result.stdout
