"""The Dockerfiles, without a container engine: hadolint lints them, and each build stage's
COPY and RUN steps run here against a fresh virtualenv (absolute paths moved under a
scratch root), so a broken install step fails CI before an image build would."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HADOLINT = Path(sys.executable).parent / "hadolint"


def test_hadolint_passes_both_and_refuses_a_bad_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [HADOLINT, "Dockerfile.runtime", "Dockerfile.operator"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install .\n")
    refused = subprocess.run([HADOLINT, str(bad)], capture_output=True, text=True)
    assert refused.returncode != 0
    assert "DL3007" in refused.stdout  # latest tag
    assert "DL3003" in refused.stdout  # cd instead of WORKDIR


@dataclass
class Stage:
    name: str
    args: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse_stages(dockerfile: Path) -> dict[str, Stage]:
    """Stages by name (or index) with their ARG defaults and instructions."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            name = rest.split(" AS ")[-1].strip() if " AS " in rest else str(len(stages))
            current = stages.setdefault(name, Stage(name, dict(global_args)))
        elif keyword == "ARG":
            key, _, value = rest.partition("=")
            (current.args if current else global_args)[key] = value.strip('"')
        elif current is not None:
            current.steps.append((keyword, rest))
    return stages


def run_stage(stage: Stage, scratch: Path, build_args: dict[str, str]) -> None:
    """COPY and RUN of `stage` under `scratch`; ENV and ARG as the builder sets them."""
    absolute = re.compile(r"(?<![\w./-])/(opt|src|models)(?=[/\s\"']|$)")
    python_bin = scratch / "python-bin"
    python_bin.mkdir(parents=True, exist_ok=True)
    (python_bin / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{python_bin}:{os.environ['PATH']}"}
    env.update({**stage.args, **build_args})
    for keyword, rest in stage.steps:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
            # The image builder starts from no cache; CI keeps pip's (downloads are slow).
            env.pop("PIP_NO_CACHE_DIR", None)
        elif keyword == "COPY":
            source, target = rest.split()
            destination = Path(str(scratch) + target)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(ROOT / source, destination)
        elif keyword == "RUN":
            command = absolute.sub(lambda m: f"{scratch}/{m.group(1)}", rest)
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert result.returncode == 0, (
                f"RUN {rest}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )


@pytest.mark.slow
def test_runtime_build_stage_installs_and_bakes_a_model(tmp_path: Path) -> None:
    stage = parse_stages(ROOT / "Dockerfile.runtime")["build"]
    assert stage.args["VARIANT"] == "cpu"
    run_stage(stage, tmp_path, {"BAKE_MODEL": "tiny.en"})
    venv = tmp_path / "opt" / "venv" / "bin"
    help_text = subprocess.run(
        [venv / "whisper-runtime", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "serve" in help_text
    assert "batch" in help_text
    assert (tmp_path / "models" / "tiny.en" / "model.bin").is_file()


@pytest.mark.slow
def test_operator_build_stage_installs(tmp_path: Path) -> None:
    stages = parse_stages(ROOT / "Dockerfile.operator")
    run_stage(stages["build"], tmp_path, {})
    help_text = subprocess.run(
        [tmp_path / "opt" / "venv" / "bin" / "whisper-operator", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "--delete-pool" in help_text
    assert "WHISPER_OPERATOR_RUNTIME_IMAGE" in help_text


def test_cuda_variant_resolves(tmp_path: Path) -> None:
    """VARIANT=cuda adds the CUDA wheels: pip must resolve them (metadata only, no install)."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
         "--ignore-installed", f"{ROOT / 'runtime'}[tiny-en,cuda]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "nvidia-cublas-cu12" in result.stdout
    assert "nvidia-cudnn-cu12" in result.stdout
