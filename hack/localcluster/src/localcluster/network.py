"""Pod networking: a Linux bridge per cluster, a network namespace and veth pair per pod.

Each pod gets its own IP in the cluster's /24, so two replicas listening on the same port
coexist, and the Node's InternalIP (the bridge address) is reachable from pods and host.
"""

from __future__ import annotations

import hashlib
import subprocess


class NetworkError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def create_bridge(bridge: str, address: str) -> None:
    if link_exists(bridge):
        _ip("link", "del", bridge)
    _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "add", f"{address}/24", "dev", bridge)
    _ip("link", "set", bridge, "up")


def delete_bridge(bridge: str) -> None:
    if link_exists(bridge):
        _ip("link", "del", bridge, check=False)


def namespace_name(pod_uid: str) -> str:
    return f"wp-{pod_uid[:13]}"


def _veth_name(pod_uid: str) -> str:
    # Interface names are at most 15 characters.
    return "wpv" + hashlib.sha256(pod_uid.encode()).hexdigest()[:11]


def create_pod_network(pod_uid: str, bridge: str, pod_ip: str, gateway: str) -> str:
    """A network namespace holding `pod_ip`, wired to the bridge; returns its name."""
    namespace = namespace_name(pod_uid)
    delete_pod_network(pod_uid)
    host_side = _veth_name(pod_uid)
    _ip("netns", "add", namespace)
    _ip("link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", namespace)
    _ip("link", "set", host_side, "master", bridge)
    _ip("link", "set", host_side, "up")
    _ip("-n", namespace, "addr", "add", f"{pod_ip}/24", "dev", "eth0")
    _ip("-n", namespace, "link", "set", "eth0", "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    _ip("-n", namespace, "route", "add", "default", "via", gateway)
    return namespace


def delete_pod_network(pod_uid: str) -> None:
    _ip("netns", "del", namespace_name(pod_uid), check=False)
    host_side = _veth_name(pod_uid)
    if link_exists(host_side):
        _ip("link", "del", host_side, check=False)


def check_support() -> str | None:
    """Why pod networks cannot be made here, or None when they can."""
    probe = "wp-probe"
    if _ip("netns", "add", probe, check=False).returncode != 0:
        return "cannot create network namespaces (needs root and iproute2)"
    _ip("netns", "del", probe, check=False)
    return None
