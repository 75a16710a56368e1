"""The kind end-to-end path and the hosted CI workflow, as far as a machine without Docker
can check them: scripts pass shellcheck, the workflow runs what the README says, and
`make e2e-kind` skips with its reason instead of failing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcluster.tools import ensure_actionlint

ROOT = Path(__file__).resolve().parent.parent.parent
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def docker_engine_running() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = [*sorted((ROOT / "hack").glob("*.sh")), ROOT / ".ci" / "run"]
    result = subprocess.run([SHELLCHECK, *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_workflow_passes_actionlint() -> None:
    """actionlint: workflow syntax, expressions, action inputs, and shellcheck on run: steps."""
    result = subprocess.run(
        [ensure_actionlint(), "-shellcheck", SHELLCHECK, ".github/workflows/ci.yml"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_workflow_runs_the_tests_terraform_kind_and_tagged_image_builds() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "terraform", "e2e-kind", "images"}

    def commands(job: str) -> str:
        return "\n".join(step.get("run", "") for step in jobs[job]["steps"])

    assert "make test" in commands("test")
    assert "tofu validate" in commands("terraform")
    assert "make e2e-kind" in commands("e2e-kind")
    assert jobs["images"]["if"] == "startsWith(github.ref, 'refs/tags/v')"
    built = {entry["dockerfile"] for entry in jobs["images"]["strategy"]["matrix"]["include"]}
    assert built == {"Dockerfile.operator", "Dockerfile.runtime"}


@pytest.mark.skipif(docker_engine_running(), reason="a Docker engine runs here: run make e2e-kind")
def test_e2e_kind_skips_with_its_reason_without_docker() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "e2e-kind"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "SKIP e2e-kind: " in result.stdout
    assert "docker" in result.stdout.split("SKIP e2e-kind: ", 1)[1]
