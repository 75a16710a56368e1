"""terraform/: `tofu fmt -check` and TFLint (all bundled Terraform language rules) with both
built from Go modules, and every reference resolving to a declaration. `tofu validate`
needs the AWS, Helm and TLS providers, which nothing here can download or build (see the
README of terraform/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from localcluster.tools import ensure_checkov, ensure_opentofu, ensure_tflint

TERRAFORM = Path(__file__).resolve().parent.parent.parent / "terraform"
ENV = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"}


def run(*command: str | Path, cwd: Path = TERRAFORM) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


def test_tofu_fmt_check() -> None:
    result = run(ensure_opentofu(), "fmt", "-check", "-diff", "-recursive")
    assert result.returncode == 0, result.stdout + result.stderr


def test_tflint_passes_and_catches_an_undocumented_variable(tmp_path: Path) -> None:
    tflint = ensure_tflint()
    result = run(tflint, "--format", "compact")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, broken)
    with (broken / "variables.tf").open("a") as variables:
        variables.write('\nvariable "undocumented" {\n  type = string\n}\n')
    refused = run(tflint, "--format", "compact", cwd=broken)
    assert refused.returncode != 0
    assert "terraform_documented_variables" in refused.stdout
    assert "terraform_unused_declarations" in refused.stdout


def declarations(text: str) -> set[str]:
    names = {
        f"{kind}.{name}" for kind, name in re.findall(r'^resource "(\w+)" "(\w+)"', text, re.M)
    }
    names |= {
        f"data.{kind}.{name}" for kind, name in re.findall(r'^data "(\w+)" "(\w+)"', text, re.M)
    }
    names |= {f"var.{name}" for name in re.findall(r'^variable "(\w+)"', text, re.M)}
    for block in re.findall(r"^locals \{\n(.*?)^\}", text, re.M | re.S):
        names |= {f"local.{name}" for name in re.findall(r"^  (\w+)\s+=", block, re.M)}
    return names


def references(text: str) -> set[str]:
    code = re.sub(r"#.*$", "", text, flags=re.M)
    found = set(re.findall(r"\b(?<![.\w])((?:aws|helm|tls)_\w+\.\w+)", code))
    found |= set(re.findall(r"\b(data\.\w+\.\w+)", code))
    found |= set(re.findall(r"\b((?:var|local)\.\w+)", code))
    return found


def test_every_reference_is_declared() -> None:
    """What `tofu validate` would catch first, without the providers: a reference to a
    resource, data source, variable or local that does not exist."""
    text = "\n".join(path.read_text() for path in sorted(TERRAFORM.glob("*.tf")))
    declared = declarations(text)
    assert {
        "aws_eks_cluster.this",
        "data.tls_certificate.oidc",
        "var.gpu_nodes",
        "local.zones",
    } <= declared
    assert sorted(references(text) - declared) == []
    assert references("x = aws_vpc.typo.id + var.nope") - declared == {"aws_vpc.typo", "var.nope"}


def test_example_values_name_declared_variables() -> None:
    declared = declarations((TERRAFORM / "variables.tf").read_text())
    given = re.findall(r"^(\w+)\s*=", (TERRAFORM / "terraform.tfvars.example").read_text(), re.M)
    assert len(given) >= 5
    assert [name for name in given if f"var.{name}" not in declared] == []


def test_checkov_finds_nothing_and_catches_an_unrotated_key(tmp_path: Path) -> None:
    """checkov's AWS checks, with the skips and their reasons in terraform/.checkov.yaml."""
    checkov = ensure_checkov()
    config = TERRAFORM / ".checkov.yaml"
    result = run(*checkov, "-d", ".", "--config-file", config)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Failed checks: 0" in result.stdout
    broken = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, broken)
    main = broken / "main.tf"
    main.write_text(
        main.read_text().replace(
            "enable_key_rotation     = true", "enable_key_rotation     = false"
        )
    )
    refused = run(*checkov, "-d", ".", "--config-file", config, cwd=broken)
    assert refused.returncode != 0
    assert "CKV_AWS_7" in refused.stdout
