"""The deployment linters, cached beside the control plane: OpenTofu (`tofu fmt`), TFLint
(its bundled Terraform language rules) and actionlint (GitHub Actions workflows) built from
Go modules, and checkov (the IaC scanner, from PyPI) in a virtualenv of its own, as its
pins clash with the project's."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .build import _go, _module_dir, _run, _wrapper_go_mod, cache_root

log = logging.getLogger(__name__)

OPENTOFU_VERSION = "v1.10.10"
TFLINT_VERSION = "v0.64.0"
CHECKOV_VERSION = "3.3.30"
ACTIONLINT_VERSION = "v1.7.12"


def _published_replaces(go_mod: str) -> dict[str, str]:
    """A module's replace directives that point at other published modules (not paths)."""
    replaces = {}
    for old, new in re.findall(
        r"^\s*(?:replace\s+)?(\S+(?: v\S+)?) => (\S+ v\S+)\s*$", go_mod, re.M
    ):
        replaces[old] = new
    return replaces


def build_opentofu(version: str, target: Path) -> None:
    """opentofu's go.mod replaces hcl/v2 with its fork, so `go install` refuses it: a wrapper
    module carries the same replace."""
    module = "github.com/opentofu/opentofu"
    workdir = cache_root() / "build" / f"opentofu-{version}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(
        _wrapper_go_mod("whisperprod.local/opentofu-build", {module: version}, {})
    )
    source = _module_dir(module, version, workdir)
    go_mod = (source / "go.mod").read_text()
    go_version = re.search(r"^go (\S+)", go_mod, re.M)
    (workdir / "go.mod").write_text(
        _wrapper_go_mod(
            "whisperprod.local/opentofu-build",
            {module: version},
            _published_replaces(go_mod),
            go=go_version.group(1) if go_version else "1.24.0",
        )
    )
    _run([_go(), "get", f"{module}/cmd/tofu@{version}"], workdir)
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "build", "-trimpath", "-ldflags", f"-s -w -X {module}/version.dev=no",
         "-o", str(target / "tofu"), f"{module}/cmd/tofu"],
        workdir,
        env={"CGO_ENABLED": "0"},
    )  # fmt: skip


def _go_install(package: str, version: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "install", "-trimpath", "-ldflags", "-s -w", f"{package}@{version}"],
        target,
        env={"GOBIN": str(target), "CGO_ENABLED": "0"},
    )


def build_tflint(version: str, target: Path) -> None:
    _go_install("github.com/terraform-linters/tflint", version, target)


def build_actionlint(version: str, target: Path) -> None:
    _go_install("github.com/rhysd/actionlint/cmd/actionlint", version, target)


def _ensure(name: str, version: str, binary: str, build: Callable[[str, Path], None]) -> Path:
    folder = cache_root() / "bin" / f"{name}-{version}"
    if not os.access(folder / binary, os.X_OK):
        started = time.monotonic()
        log.warning("building %s %s (once; cached in %s)", name, version, folder)
        partial = folder.parent / f"{folder.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        build(version, partial)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        log.warning("built %s in %.0f s", name, time.monotonic() - started)
    return folder / binary


def ensure_opentofu() -> Path:
    return _ensure("opentofu", OPENTOFU_VERSION, "tofu", build_opentofu)


def ensure_tflint() -> Path:
    return _ensure("tflint", TFLINT_VERSION, "tflint", build_tflint)


def ensure_actionlint() -> Path:
    return _ensure("actionlint", ACTIONLINT_VERSION, "actionlint", build_actionlint)


def build_checkov(version: str, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    _run([str(target / "bin" / "pip"), "install", "--quiet", f"checkov=={version}"], target)


def ensure_checkov() -> list[str]:
    """The checkov command. Through the venv's python: the venv is built under a temporary
    name and renamed, which leaves its scripts' #! lines pointing at the old name."""
    python = _ensure("checkov", CHECKOV_VERSION, "bin/python", build_checkov)
    return [str(python), "-W", "ignore::SyntaxWarning", "-m", "checkov.main"]
