"""Container probes (HTTP, TCP, exec) and their thresholds, as the kubelet runs them."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

JsonObject = dict[str, Any]


def _port(value: int | str, named: dict[str, int]) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    if value not in named:
        raise ValueError(f"probe names port {value!r}, which the container does not declare")
    return named[value]


def run_probe(
    probe: JsonObject, pod_ip: str, named_ports: dict[str, int], pid: int | None
) -> tuple[bool, str]:
    """(success, message) of one probe attempt."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            scheme = spec.get("scheme", "HTTP").lower()
            host = spec.get("host") or pod_ip
            port = _port(spec["port"], named_ports)
            url = f"{scheme}://{host}:{port}{spec.get('path', '/')}"
            headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
            response = httpx.get(url, headers=headers, timeout=timeout, verify=False)  # noqa: S501
            ok = 200 <= response.status_code < 400
            return ok, f"HTTP probe of {url} answered {response.status_code}"
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            port = _port(spec["port"], named_ports)
            with socket.create_connection((spec.get("host") or pod_ip, port), timeout=timeout):
                return True, "connected"
        if "exec" in probe:
            if pid is None:
                return False, "container not running"
            command = ["nsenter", "-t", str(pid), "-n", "-m", "--", *probe["exec"]["command"]]
            result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
            return result.returncode == 0, f"exec probe exited {result.returncode}"
        return False, "only httpGet, tcpSocket and exec probes are supported here"
    except (OSError, httpx.HTTPError, subprocess.TimeoutExpired, ValueError) as error:
        return False, f"probe failed: {error}"


@dataclass
class ProbeState:
    """Consecutive results of one probe of one container run."""

    probe: JsonObject | None
    started: float = field(default_factory=time.monotonic)
    next_at: float = 0.0
    successes: int = 0
    failures: int = 0
    passed: bool = False  # over successThreshold, and not yet failed failureThreshold
    failed: bool = False
    message: str = ""

    def __post_init__(self) -> None:
        if self.probe is not None:
            self.next_at = self.started + float(self.probe.get("initialDelaySeconds", 0))

    def due(self, now: float) -> bool:
        return self.probe is not None and now >= self.next_at

    def record(self, ok: bool, message: str, now: float) -> None:
        if self.probe is None:
            return
        self.next_at = now + float(self.probe.get("periodSeconds", 10))
        self.message = message
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= int(self.probe.get("successThreshold", 1)):
                self.passed, self.failed = True, False
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= int(self.probe.get("failureThreshold", 3)):
                self.passed, self.failed = False, True
