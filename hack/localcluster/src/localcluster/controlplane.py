"""Start and stop etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the
node agent as background processes, with the flags controller-runtime's envtest uses."""

from __future__ import annotations

import base64
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from .build import Binaries
from .layout import KUBERNETES_SERVICE_IP, SERVICE_CIDR, ClusterLayout
from .network import create_bridge, delete_bridge
from .pki import Pki, create_pki

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Processes in start order; stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "node-agent")


def write_kubeconfig(path: Path, server: str, pki: Pki, user: str) -> None:
    def data(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "whisper-prod-local",
                "cluster": {"server": server, "certificate-authority-data": data(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": data(pki.client_cert(user)),
                    "client-key-data": data(pki.client_key(user)),
                },
            }
        ],
        "contexts": [{"name": "local", "context": {"cluster": "whisper-prod-local", "user": user}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _commands(layout: ClusterLayout, binaries: Binaries, pki: Pki) -> dict[str, list[str]]:
    cm_config = layout.state_dir / "controller-manager.kubeconfig"
    return {
        "etcd": [
            str(binaries.etcd),
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls=http://127.0.0.1:{layout.etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{layout.etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-cluster=default=http://127.0.0.1:{layout.etcd_peer_port}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        "kube-apiserver": [
            str(binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{layout.etcd_port}",
            f"--cert-dir={layout.pki_dir}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--secure-port={layout.apiserver_port}",
            f"--bind-address={layout.node_ip}",
            f"--advertise-address={layout.node_ip}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--enable-priority-and-fairness=false",
            "--v=1",
        ],
        "kube-controller-manager": [
            str(binaries.kube_controller_manager),
            f"--kubeconfig={cm_config}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.controller_manager_port}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            # Clean up finished pods quickly enough for tests to see it.
            "--terminated-pod-gc-threshold=100",
            "--v=1",
        ],
        "kube-scheduler": [
            str(binaries.kube_scheduler),
            f"--kubeconfig={cm_config}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.scheduler_port}",
            "--v=1",
        ],
        "node-agent": [
            sys.executable, "-m", "localcluster.node.agent", "--state-dir", str(layout.state_dir),
        ],
    }  # fmt: skip


def _pid_file(layout: ClusterLayout, component: str) -> Path:
    return layout.pids_dir / f"{component}.pid"


def _start(layout: ClusterLayout, component: str, command: list[str]) -> None:
    log_file = layout.logs_dir / f"{component}.log"
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives `make cluster` returning; stopped by pid
            cwd=layout.state_dir,
        )
    _pid_file(layout, component).write_text(str(process.pid))


def _alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie (exited, not yet reaped by a parent that may never reap
    it, such as a container's init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it is ours
        except ChildProcessError:
            pass
        return False
    return True


def running_pid(layout: ClusterLayout, component: str) -> int | None:
    path = _pid_file(layout, component)
    if not path.exists():
        return None
    pid = int(path.read_text())
    return pid if _alive(pid) else None


def _ssl_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.client_cert("admin")), str(pki.client_key("admin")))
    return context


def _wait_ready(
    layout: ClusterLayout,
    pki: Pki,
    deadline: float,
    check: Callable[[httpx.Client], bool],
    component: str,
) -> None:
    with httpx.Client(verify=_ssl_context(pki), timeout=2) as client:
        while time.monotonic() < deadline:
            if running_pid(layout, component) is None:
                raise RuntimeError(
                    f"{component} exited; see {layout.logs_dir / (component + '.log')}"
                )
            try:
                if check(client):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"{component} was not ready in time; see {layout.logs_dir}")


def start(layout: ClusterLayout, binaries: Binaries, timeout: float = 120) -> None:
    """Start every component and return once the API answers and the node is Ready."""
    for folder in (layout.logs_dir, layout.pids_dir, layout.pods_dir):
        folder.mkdir(parents=True, exist_ok=True)
    layout.save()
    pki = create_pki(
        layout.pki_dir,
        ips=["127.0.0.1", layout.node_ip, KUBERNETES_SERVICE_IP],
        clients={"admin": ("whisper-prod-admin", "system:masters")},
    )
    write_kubeconfig(layout.kubeconfig, layout.apiserver_url, pki, "admin")
    write_kubeconfig(
        layout.state_dir / "controller-manager.kubeconfig", layout.apiserver_url, pki, "admin"
    )
    create_bridge(layout.bridge, layout.node_ip)
    commands = _commands(layout, binaries, pki)
    deadline = time.monotonic() + timeout
    base = layout.apiserver_url

    _start(layout, "etcd", commands["etcd"])
    _start(layout, "kube-apiserver", commands["kube-apiserver"])
    _wait_ready(
        layout, pki, deadline,
        lambda c: c.get(f"{base}/readyz").status_code == 200, "kube-apiserver",
    )  # fmt: skip
    for component in ("kube-controller-manager", "kube-scheduler", "node-agent"):
        _start(layout, component, commands[component])

    def node_ready(client: httpx.Client) -> bool:
        response = client.get(f"{base}/api/v1/nodes")
        nodes = response.json().get("items", []) if response.status_code == 200 else []
        return any(
            condition["type"] == "Ready" and condition["status"] == "True"
            for node in nodes
            for condition in node.get("status", {}).get("conditions", [])
        )

    def default_service_account(client: httpx.Client) -> bool:
        # The controller-manager's service-account controller is up once this exists.
        response = client.get(f"{base}/api/v1/namespaces/default/serviceaccounts/default")
        return response.status_code == 200

    _wait_ready(layout, pki, deadline, node_ready, "node-agent")
    _wait_ready(layout, pki, deadline, default_service_account, "kube-controller-manager")


def stop(layout: ClusterLayout, grace: float = 15) -> None:
    """Stop every component (the node agent first, so it stops its pods)."""
    for component in reversed(COMPONENTS):
        pid = running_pid(layout, component)
        if pid is None:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        _pid_file(layout, component).unlink(missing_ok=True)
    delete_bridge(layout.bridge)
