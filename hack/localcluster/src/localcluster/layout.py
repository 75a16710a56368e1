"""Where one local cluster keeps its state, and the addresses it uses."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

NODE_NAME = "local-node"
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ClusterLayout:
    """One cluster: its folder, its instance number (bridge and pod subnet), its ports."""

    state_dir: Path
    instance: int
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    scheduler_port: int

    @staticmethod
    def new(state_dir: Path, instance: int) -> ClusterLayout:
        if not 0 <= instance <= 200:
            raise ValueError("instance must be between 0 and 200")
        return ClusterLayout(
            state_dir=state_dir.resolve(),
            instance=instance,
            etcd_port=free_port(),
            etcd_peer_port=free_port(),
            apiserver_port=free_port(),
            controller_manager_port=free_port(),
            scheduler_port=free_port(),
        )

    # --- network: a bridge per cluster, a /24 of pod addresses behind it ---------------------
    @property
    def bridge(self) -> str:
        return f"wpbr{self.instance}"

    @property
    def subnet_prefix(self) -> str:
        return f"10.244.{self.instance}"

    @property
    def node_ip(self) -> str:
        """The Node's InternalIP: the bridge's address, reachable from host and pods."""
        return f"{self.subnet_prefix}.1"

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.node_ip}:{self.apiserver_port}"

    # --- files ------------------------------------------------------------------------------
    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def pods_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def etcd_data(self) -> Path:
        return self.state_dir / "etcd"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {**asdict(self), "state_dir": str(self.state_dir)}
        (self.state_dir / "cluster.json").write_text(json.dumps(data, indent=2) + "\n")

    @staticmethod
    def load(state_dir: Path) -> ClusterLayout:
        data = json.loads((state_dir / "cluster.json").read_text())
        data["state_dir"] = Path(data["state_dir"])
        return ClusterLayout(**data)
