"""Build the control-plane binaries from the Go module proxy, once, into a cache.

k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the staging modules
(k8s.io/api, k8s.io/client-go, ...) with ./staging paths. A small wrapper module that
requires it and replaces each staging module with its published version builds it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
HELM_VERSION = "v3.21.2"

KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# What controller-runtime's setup-envtest ships; the rest is always built here.
ENVTEST_ASSETS = ("kube-apiserver", "etcd", "kubectl")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whisper-prod"


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    helm: Path | None = None


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go is needed to build the control plane: install Go 1.24 or newer")
    return go


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    log.info("running %s", " ".join(command))
    result = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{result.stderr[-4000:]}")


def _module_dir(module: str, version: str, workdir: Path) -> Path:
    _run([_go(), "mod", "download", f"{module}@{version}"], workdir)
    result = subprocess.run(
        [_go(), "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    )
    return Path(result.stdout.strip()) / f"{module}@{version}"


def _staging_modules(kubernetes_dir: Path) -> list[str]:
    """The k8s.io modules k8s.io/kubernetes replaces with ./staging paths."""
    go_mod = (kubernetes_dir / "go.mod").read_text()
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", go_mod, re.M)))


def _wrapper_go_mod(
    module: str, requires: dict[str, str], replaces: dict[str, str], go: str = "1.24.0"
) -> str:
    """A go.mod requiring `requires`; `replaces` maps a module (optionally "module version")
    to what replaces it ("module version")."""
    lines = [f"module {module}", "", f"go {go}", "", "require ("]
    lines += [f"\t{path} {version}" for path, version in requires.items()]
    lines += [")", ""]
    if replaces:
        lines.append("replace (")
        lines += [f"\t{old} => {new}" for old, new in replaces.items()]
        lines.append(")")
    return "\n".join(lines) + "\n"


def build_kubernetes(version: str, target: Path) -> None:
    workdir = cache_root() / "build" / f"kubernetes-{version}"
    workdir.mkdir(parents=True, exist_ok=True)
    staging_version = "v0." + version.removeprefix("v1.")
    (workdir / "go.mod").write_text(
        _wrapper_go_mod("whisperprod.local/kubernetes-build", {"k8s.io/kubernetes": version}, {})
    )
    kubernetes_dir = _module_dir("k8s.io/kubernetes", version, workdir)
    replaces = {
        module: f"{module} {staging_version}" for module in _staging_modules(kubernetes_dir)
    }
    (workdir / "go.mod").write_text(
        _wrapper_go_mod(
            "whisperprod.local/kubernetes-build", {"k8s.io/kubernetes": version}, replaces
        )
    )
    packages = [f"k8s.io/kubernetes/cmd/{command}" for command in KUBERNETES_COMMANDS]
    _run([_go(), "get", *(f"{p}@{version}" for p in packages)], workdir)
    major, minor = version.removeprefix("v").split(".")[:2]
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "build", "-trimpath", "-ldflags", "-s -w " + " ".join(stamps),
         "-o", str(target) + "/", *packages],
        workdir,
    )  # fmt: skip


def build_etcd(version: str, target: Path) -> None:
    workdir = cache_root() / "build" / f"etcd-{version}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(
        _wrapper_go_mod("whisperprod.local/etcd-build", {"go.etcd.io/etcd/server/v3": version}, {})
    )
    _run([_go(), "get", f"go.etcd.io/etcd/server/v3@{version}"], workdir)
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "build", "-trimpath", "-ldflags", "-s -w", "-o", str(target / "etcd"),
         "go.etcd.io/etcd/server/v3"],
        workdir,
        env={"CGO_ENABLED": "0"},
    )  # fmt: skip


def build_helm(version: str, target: Path) -> None:
    workdir = cache_root() / "build" / f"helm-{version}"
    workdir.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [_go(), "install", "-trimpath", "-ldflags", "-s -w", f"helm.sh/helm/v3/cmd/helm@{version}"],
        workdir,
        env={"GOBIN": str(target), "CGO_ENABLED": "0"},
    )


def _complete(folder: Path, names: tuple[str, ...]) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in names)


def ensure_binaries(*, with_helm: bool = False) -> Binaries:
    """The binaries, built on first use and reused from the cache after that.

    With KUBEBUILDER_ASSETS set (setup-envtest), its etcd, kube-apiserver and kubectl are
    used; kube-controller-manager and kube-scheduler are built either way.
    """
    root = cache_root() / "bin"
    kube_dir = root / f"kubernetes-{KUBERNETES_VERSION}"
    etcd_dir = root / f"etcd-{ETCD_VERSION}"
    helm_dir = root / f"helm-{HELM_VERSION}"
    if not _complete(kube_dir, KUBERNETES_COMMANDS):
        started = time.monotonic()
        log.warning(
            "building Kubernetes %s from Go modules (once; cached in %s)",
            KUBERNETES_VERSION,
            kube_dir,
        )
        partial = kube_dir.parent / f"{kube_dir.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        build_kubernetes(KUBERNETES_VERSION, partial)
        shutil.rmtree(kube_dir, ignore_errors=True)
        partial.rename(kube_dir)
        log.warning("built Kubernetes in %.0f s", time.monotonic() - started)
    if not _complete(etcd_dir, ("etcd",)):
        log.warning("building etcd %s from Go modules (once; cached in %s)", ETCD_VERSION, etcd_dir)
        partial = etcd_dir.parent / f"{etcd_dir.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        build_etcd(ETCD_VERSION, partial)
        shutil.rmtree(etcd_dir, ignore_errors=True)
        partial.rename(etcd_dir)
    helm = None
    if with_helm:
        if not _complete(helm_dir, ("helm",)):
            log.warning("building helm %s from Go modules (once)", HELM_VERSION)
            build_helm(HELM_VERSION, helm_dir)
        helm = helm_dir / "helm"
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    envtest = Path(assets) if assets and _complete(Path(assets), ENVTEST_ASSETS) else None
    return Binaries(
        etcd=(envtest or etcd_dir) / "etcd",
        kube_apiserver=(envtest or kube_dir) / "kube-apiserver",
        kube_controller_manager=kube_dir / "kube-controller-manager",
        kube_scheduler=kube_dir / "kube-scheduler",
        kubectl=(envtest or kube_dir) / "kubectl",
        helm=helm,
    )
