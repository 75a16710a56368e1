"""The node agent: registers a Node and runs the pods scheduled to it as local processes.

Each pod gets a network namespace with its own IP on the cluster bridge; each container is
a process in that namespace and in a mount namespace of its own, where the pod's volumes
are bind-mounted at their mount paths. The agent reports phases, container states,
readiness (HTTP/TCP/exec probes), exit codes and restarts, and stops a deleted pod with
SIGTERM, then SIGKILL after its grace period. Container logs go to files under
<state-dir>/pods/<namespace>_<pod>_<uid>/<container>.log.

    python -m localcluster.node.agent --state-dir .local-cluster
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kube import ApiError, Kube
from ..layout import NODE_NAME, ClusterLayout
from ..network import create_pod_network, delete_pod_network
from .podspec import (
    ContainerConfigError,
    container_argv,
    container_env,
    container_ports,
    image_profile,
)
from .probes import ProbeState, run_probe
from .volumes import container_mounts, materialize_volumes

log = logging.getLogger("localcluster.agent")
JsonObject = dict[str, Any]

# What the Node advertises: room for tests and the demo, not a measure of this machine.
NODE_CAPACITY = {"cpu": "32", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
MAX_BACKOFF_SECONDS = 20.0
TICK_SECONDS = 0.25


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerRun:
    spec: JsonObject
    init: bool
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restart_count: int = 0
    state: JsonObject = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: JsonObject = field(default_factory=dict)
    restart_at: float = 0.0
    backoff: float = 1.0
    readiness: ProbeState | None = None
    liveness: ProbeState | None = None
    startup: ProbeState | None = None

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        terminated = self.state.get("terminated")
        return None if terminated is None else int(terminated["exitCode"])

    @property
    def started(self) -> bool:
        if not self.running:
            return False
        return self.startup is None or self.startup.passed

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        return self.readiness is None or self.readiness.passed

    def status(self) -> JsonObject:
        status: JsonObject = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.process is not None:
            status["containerID"] = f"local://{self.process.pid}"
        return status


class PodRunner(threading.Thread):
    """Runs one pod from its first sighting to its deletion."""

    def __init__(self, agent: Agent, pod: JsonObject) -> None:
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.agent = agent
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.namespace = str(pod["metadata"]["namespace"])
        self.pod_name = str(pod["metadata"]["name"])
        self.dir = agent.layout.pods_dir / f"{self.namespace}_{self.pod_name}_{self.uid}"
        self.pod_ip = ""
        self.network: str | None = None
        self.containers: list[ContainerRun] = []
        self.inits: list[ContainerRun] = []
        self.wake = threading.Event()
        self.shutdown = False  # the agent is stopping
        self.force_deleted = False
        self.last_status: str | None = None
        self.transitions: dict[str, tuple[str, str]] = {}
        self.start_time = now_rfc3339()
        self.config_error: str | None = None
        self.mounts: dict[str, list[Any]] = {}
        self.envs: dict[str, dict[str, str]] = {}

    # --- API helpers ------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods/{self.pod_name}"

    def update(self, pod: JsonObject) -> None:
        self.pod = pod
        self.wake.set()

    def lookup(self, kind: str, name: str) -> JsonObject | None:
        plural = "secrets" if kind == "secret" else "configmaps"
        return self.agent.kube.get_or_none(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")

    def request_token(self, service_account: str, seconds: int, audiences: list[str]) -> str:
        body: JsonObject = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": max(seconds, 3600),
                "boundObjectRef": {
                    "kind": "Pod",
                    "apiVersion": "v1",
                    "name": self.pod_name,
                    "uid": self.uid,
                },
            },
        }
        if audiences:
            body["spec"]["audiences"] = audiences
        path = f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{service_account}/token"
        return str(self.agent.kube.create(path, body)["status"]["token"])

    def resolve_claim(self, claim: str) -> Path:
        pvc = self.agent.kube.get_or_none(
            f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{claim}"
        )
        if pvc is None:
            raise ContainerConfigError(f"persistentvolumeclaim {claim} not found")
        if pvc.get("status", {}).get("phase") != "Bound":
            raise ContainerConfigError(f"persistentvolumeclaim {claim} is not bound yet")
        volume = self.agent.kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
        spec = volume["spec"]
        for kind in ("hostPath", "local"):
            if kind in spec:
                return Path(spec[kind]["path"])
        raise ContainerConfigError(
            f"persistentvolume {volume['metadata']['name']} is neither hostPath nor local"
        )

    def event(self, reason: str, message: str, kind: str = "Normal") -> None:
        self.agent.event(self.pod, reason, message, kind)

    # --- setup ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Network and volumes, and each container's environment and mounts."""
        if self.network is None:
            self.pod_ip = self.agent.allocate_ip(self.uid)
            self.network = create_pod_network(
                self.uid, self.agent.layout.bridge, self.pod_ip, self.agent.layout.node_ip
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        folders = materialize_volumes(
            self.pod, self.dir / "volumes", self.lookup, self.request_token,
            self.resolve_claim, self.pod_ip, self.agent.layout.node_ip,
        )  # fmt: skip
        spec = self.pod["spec"]
        for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
            profile = image_profile(container.get("image", ""), self.agent.venv_bin)
            base = self.agent.base_env(self.pod_name, profile.path_prefix)
            env = container_env(
                self.pod, container, self.lookup, self.pod_ip, self.agent.layout.node_ip, base
            )
            argv = container_argv(container, profile, env)
            self.envs[container["name"]] = env
            self.mounts[container["name"]] = [
                [str(m.source), m.target, m.read_only] for m in container_mounts(container, folders)
            ]
            (self.dir / f"{container['name']}.spec.json").write_text(
                json.dumps(
                    {
                        "argv": argv,
                        "env": env,
                        "cwd": container.get("workingDir") or "/",
                        "mounts": self.mounts[container["name"]],
                        "preserve": self.agent.preserved_paths,
                    }
                )
            )
        if not self.containers:
            self.inits = [
                ContainerRun(c, True, self.dir / f"{c['name']}.log")
                for c in spec.get("initContainers") or []
            ]
            self.containers = [
                ContainerRun(c, False, self.dir / f"{c['name']}.log") for c in spec["containers"]
            ]

    # --- processes ------------------------------------------------------------------------
    def start_container(self, run: ContainerRun) -> None:
        if self.network is None:
            raise ContainerConfigError("the pod network is not set up")
        spec_file = self.dir / f"{run.name}.spec.json"
        with run.log_path.open("ab") as log_file:
            run.process = subprocess.Popen(
                ["ip", "netns", "exec", self.network,
                 "unshare", "--mount", "--propagation", "private",
                 sys.executable, "-m", "localcluster.node.podexec", str(spec_file)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        run.state = {"running": {"startedAt": now_rfc3339()}}
        run.readiness = ProbeState(run.spec.get("readinessProbe"))
        run.liveness = ProbeState(run.spec.get("livenessProbe"))
        run.startup = ProbeState(run.spec["startupProbe"]) if run.spec.get("startupProbe") else None
        if run.readiness.probe is None:
            run.readiness = None
        if run.liveness.probe is None:
            run.liveness = None
        self.event("Started", f"Started container {run.name} (pid {run.process.pid})")

    def stop_container(self, run: ContainerRun, grace: float, reason: str) -> None:
        if not run.running or run.process is None:
            return
        self.event("Killing", f"Stopping container {run.name}: {reason}")
        try:
            os.killpg(run.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            run.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        self.reap(run)

    def reap(self, run: ContainerRun) -> bool:
        """Record a finished process; True when it just finished."""
        if run.process is None or run.process.poll() is None or "terminated" in run.state:
            return False
        code = run.process.returncode
        if code < 0:  # killed by a signal: report it as a shell would
            code = 128 - code
        started = run.state.get("running", {}).get("startedAt", self.start_time)
        run.state = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": started,
                "finishedAt": now_rfc3339(),
                "containerID": f"local://{run.process.pid}",
            }
        }
        return True

    def should_restart(self, run: ContainerRun) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        if run.init and policy == "Always":
            policy = "OnFailure"  # init containers restart only on failure
        code = run.exit_code
        return policy == "Always" or (policy == "OnFailure" and code not in (0, None))

    def restart_if_due(self, run: ContainerRun, now: float) -> None:
        if "terminated" not in run.state or not self.should_restart(run):
            return
        if run.restart_at == 0.0:
            run.restart_at = now + run.backoff
            self.event(
                "BackOff", f"Back-off {run.backoff:.0f}s restarting container {run.name}", "Warning"
            )
            return
        if now < run.restart_at:
            return
        run.last_state = run.state
        run.restart_count += 1
        run.backoff = min(MAX_BACKOFF_SECONDS, run.backoff * 2)
        run.restart_at = 0.0
        self.start_container(run)

    def check_probes(self, run: ContainerRun, now: float) -> None:
        if not run.running or run.process is None:
            return
        ports = container_ports(run.spec)
        pid = run.process.pid
        if run.startup is not None and not run.startup.passed:
            if run.startup.due(now):
                run.startup.record(
                    *run_probe(run.startup.probe or {}, self.pod_ip, ports, pid), now
                )
                if run.startup.failed:
                    self.event(
                        "Unhealthy", f"Startup probe failed: {run.startup.message}", "Warning"
                    )
                    self.stop_container(run, 2, "failed its startup probe")
            return
        for probe in (run.liveness, run.readiness):
            if probe is not None and probe.due(now):
                probe.record(*run_probe(probe.probe or {}, self.pod_ip, ports, pid), now)
        if run.liveness is not None and run.liveness.failed:
            self.event("Unhealthy", f"Liveness probe failed: {run.liveness.message}", "Warning")
            grace = float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))
            self.stop_container(run, grace, "failed its liveness probe")

    # --- status ---------------------------------------------------------------------------
    def phase(self) -> str:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        if any(
            run.exit_code not in (None, 0) and not self.should_restart(run) for run in self.inits
        ):
            return "Failed"
        if not all(run.exit_code == 0 for run in self.inits):
            return "Pending"
        if any(run.running for run in self.containers):
            return "Running"
        if all("terminated" in run.state for run in self.containers):
            if policy == "Always":
                return "Running"  # restarting
            if any(self.should_restart(run) for run in self.containers):
                return "Running"
            codes = [run.exit_code for run in self.containers]
            return "Succeeded" if all(code == 0 for code in codes) else "Failed"
        return "Pending"

    def condition(self, kind: str, ok: bool, reason: str = "") -> JsonObject:
        status = "True" if ok else "False"
        previous = self.transitions.get(kind)
        if previous is None or previous[0] != status:
            self.transitions[kind] = (status, now_rfc3339())
        condition: JsonObject = {
            "type": kind,
            "status": status,
            "lastTransitionTime": self.transitions[kind][1],
        }
        if reason and not ok:
            condition["reason"] = reason
        return condition

    def status(self) -> JsonObject:
        phase = self.phase()
        initialized = all(run.exit_code == 0 for run in self.inits)
        ready = phase == "Running" and all(run.ready for run in self.containers)
        terminal = phase in ("Succeeded", "Failed")
        reason = "PodCompleted" if terminal else "ContainersNotReady"
        status: JsonObject = {
            "phase": phase,
            "hostIP": self.agent.layout.node_ip,
            "hostIPs": [{"ip": self.agent.layout.node_ip}],
            "startTime": self.start_time,
            "conditions": [
                self.condition("PodReadyToStartContainers", self.network is not None),
                self.condition(
                    "Initialized",
                    initialized,
                    "PodCompleted" if terminal else "ContainersNotInitialized",
                ),
                self.condition("ContainersReady", ready, reason),
                self.condition("Ready", ready, reason),
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [run.status() for run in self.containers],
        }
        if self.inits:
            status["initContainerStatuses"] = [run.status() for run in self.inits]
        if self.pod_ip:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        if self.config_error:
            for entry in status["containerStatuses"]:
                if "waiting" in entry["state"]:
                    entry["state"] = {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": self.config_error,
                        }
                    }
        return status

    def publish(self) -> None:
        status = self.status()
        comparable = json.dumps(status, sort_keys=True)
        if comparable == self.last_status:
            return
        try:
            self.agent.kube.merge_patch(f"{self.path}/status", {"status": status})
        except ApiError as error:
            if error.status == 404:
                self.force_deleted = True
                return
            raise
        self.last_status = comparable

    # --- the loop -------------------------------------------------------------------------
    def deleting(self) -> bool:
        return (
            self.shutdown
            or self.force_deleted
            or bool(self.pod["metadata"].get("deletionTimestamp"))
        )

    def run(self) -> None:
        try:
            self.loop()
        except Exception:
            log.exception("pod %s/%s: agent error", self.namespace, self.pod_name)
        finally:
            self.cleanup()

    def loop(self) -> None:
        while not self.deleting():
            now = time.monotonic()
            if not self.containers or self.config_error:
                try:
                    self.prepare()
                    self.config_error = None
                except (ContainerConfigError, ApiError) as error:
                    if self.config_error != str(error):
                        self.event("Failed", f"Error: {error}", "Warning")
                    self.config_error = str(error)
                    self.publish()
                    self.wake.wait(2)
                    self.wake.clear()
                    continue
            self.step(now)
            self.publish()
            self.wake.wait(TICK_SECONDS)
            self.wake.clear()
        self.terminate()

    def step(self, now: float) -> None:
        for run in self.inits:
            if run.exit_code == 0:
                continue
            if run.process is None:
                self.start_container(run)
            elif self.reap(run):
                pass
            self.restart_if_due(run, now)
            return  # init containers run one at a time, in order
        for run in self.containers:
            if run.process is None:
                self.start_container(run)
                continue
            self.reap(run)
            self.restart_if_due(run, now)
            self.check_probes(run, now)

    def terminate(self) -> None:
        spec_grace = float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))
        grace = float(self.pod["metadata"].get("deletionGracePeriodSeconds", spec_grace))
        if self.shutdown:
            grace = min(grace, 5.0)
        threads = [
            threading.Thread(target=self.stop_container, args=(run, grace, "pod deleted"))
            for run in [*self.inits, *self.containers]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.shutdown or self.force_deleted:
            return
        try:
            self.publish()
        except ApiError:
            pass
        # The kubelet's last word: remove the object now that nothing runs.
        self.agent.kube.delete(
            self.path, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": self.uid}},
        )  # fmt: skip

    def cleanup(self) -> None:
        for run in [*self.inits, *self.containers]:
            if run.running and run.process is not None:
                try:
                    os.killpg(run.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.network is not None:
            delete_pod_network(self.uid)
        volumes = self.dir / "volumes"
        if volumes.exists():
            shutil.rmtree(volumes, ignore_errors=True)
        self.agent.release(self.uid)


class Agent:
    def __init__(self, layout: ClusterLayout) -> None:
        self.layout = layout
        self.kube = Kube(layout.kubeconfig)
        self.runners: dict[str, PodRunner] = {}
        self.addresses: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.venv_bin = Path(sys.executable).parent
        # What containers of this project's images run from: the checkout (its virtualenv
        # and editable sources) and the Python installation under it.
        self.preserved_paths = sorted(
            {str(Path(sys.prefix).parent), sys.prefix, sys.base_prefix, str(Path.home() / ".cache")}
        )

    # --- addresses ------------------------------------------------------------------------
    def allocate_ip(self, uid: str) -> str:
        with self.lock:
            if uid in self.addresses:
                return self.addresses[uid]
            used = set(self.addresses.values())
            for host in range(2, 255):
                candidate = f"{self.layout.subnet_prefix}.{host}"
                if candidate not in used:
                    self.addresses[uid] = candidate
                    return candidate
        raise ContainerConfigError("no pod addresses left on this node")

    def release(self, uid: str) -> None:
        with self.lock:
            self.addresses.pop(uid, None)
            self.runners.pop(uid, None)

    def base_env(self, pod_name: str, path_prefix: str | None) -> dict[str, str]:
        path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env = {
            "PATH": f"{path_prefix}:{path}" if path_prefix else path,
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "HOSTNAME": pod_name,
            "KUBERNETES_SERVICE_HOST": self.layout.node_ip,
            "KUBERNETES_SERVICE_PORT": str(self.layout.apiserver_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.layout.apiserver_port),
            "KUBERNETES_PORT": f"tcp://{self.layout.node_ip}:{self.layout.apiserver_port}",
        }
        if path_prefix:
            env["VIRTUAL_ENV"] = str(Path(path_prefix).parent)
        return env

    # --- events ---------------------------------------------------------------------------
    def event(self, pod: JsonObject, reason: str, message: str, kind: str) -> None:
        metadata = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{metadata['name']}.", "namespace": metadata["namespace"],
            },
            "involvedObject": {
                "apiVersion": "v1", "kind": "Pod", "name": metadata["name"],
                "namespace": metadata["namespace"], "uid": metadata["uid"],
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": "kubelet", "host": NODE_NAME},
            "firstTimestamp": now_rfc3339(),
            "lastTimestamp": now_rfc3339(),
            "count": 1,
        }  # fmt: skip
        try:
            self.kube.create(f"/api/v1/namespaces/{metadata['namespace']}/events", body)
        except ApiError:
            log.debug("event not recorded", exc_info=True)

    # --- the node -------------------------------------------------------------------------
    def node_status(self) -> JsonObject:
        heartbeat = now_rfc3339()
        return {
            "capacity": NODE_CAPACITY,
            "allocatable": NODE_CAPACITY,
            "addresses": [
                {"type": "InternalIP", "address": self.layout.node_ip},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "localcluster node agent is posting ready status",
                 "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat},
                *[
                    {"type": kind, "status": "False", "reason": f"KubeletHas{reason}",
                     "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat}
                    for kind, reason in (("MemoryPressure", "SufficientMemory"),
                                         ("DiskPressure", "NoDiskPressure"),
                                         ("PIDPressure", "SufficientPID"))
                ],
            ],
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "v1.34.4",
                "kubeProxyVersion": "", "containerRuntimeVersion": "localcluster://0.1",
                "kernelVersion": os.uname().release, "osImage": "local processes",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        }  # fmt: skip

    def register(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "whisperprod.io/local-node": "true",
                },
            },
        }
        try:
            self.kube.create("/api/v1/nodes", node)
        except ApiError as error:
            if error.status != 409:
                raise
        self.kube.merge_patch(f"/api/v1/nodes/{NODE_NAME}/status", {"status": self.node_status()})

    def heartbeat(self) -> None:
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE_NAME}"
        while not self.stopping.wait(10):
            try:
                self.kube.merge_patch(
                    f"/api/v1/nodes/{NODE_NAME}/status", {"status": self.node_status()}
                )
                renew = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if self.kube.get_or_none(lease_path) is None:
                    self.kube.create(
                        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                         "metadata": {"name": NODE_NAME, "namespace": "kube-node-lease"},
                         "spec": {"holderIdentity": NODE_NAME, "leaseDurationSeconds": 40,
                                  "renewTime": renew}},
                    )  # fmt: skip
                else:
                    self.kube.merge_patch(lease_path, {"spec": {"renewTime": renew}})
            except Exception:
                log.warning("node heartbeat failed", exc_info=True)

    # --- pods -----------------------------------------------------------------------------
    def observe(self, event_type: str, pod: JsonObject) -> None:
        uid = pod["metadata"]["uid"]
        runner = self.runners.get(uid)
        if event_type == "DELETED":
            if runner is not None:
                runner.force_deleted = True
                runner.wake.set()
            return
        if runner is not None:
            runner.update(pod)
            return
        phase = pod.get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            if pod["metadata"].get("deletionTimestamp"):  # finished before this agent started
                self.kube.delete(
                    f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}",
                    {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0},
                )
            return
        runner = PodRunner(self, pod)
        self.runners[uid] = runner
        runner.start()

    def watch_pods(self) -> None:
        selector = f"spec.nodeName={NODE_NAME}"
        while not self.stopping.is_set():
            try:
                listing = self.kube.get("/api/v1/pods", fieldSelector=selector)
                for pod in listing["items"]:
                    self.observe("ADDED", pod)
                version = listing["metadata"]["resourceVersion"]
                for event_type, obj in self.kube.watch(
                    "/api/v1/pods", version, fieldSelector=selector, timeoutSeconds=300
                ):
                    if self.stopping.is_set():
                        return
                    if event_type == "BOOKMARK":
                        continue
                    if event_type == "ERROR":
                        break  # e.g. 410 Gone: list again
                    self.observe(event_type, obj)
            except Exception:
                if self.stopping.is_set():
                    return
                log.warning("pod watch failed; listing again", exc_info=True)
                time.sleep(1)

    def stop_pods(self) -> None:
        """Stop every pod's processes and remove their networks (the agent is stopping)."""
        runners = list(self.runners.values())
        for runner in runners:
            runner.shutdown = True
            runner.wake.set()
        for runner in runners:
            runner.join(timeout=15)

    def run(self) -> None:
        """Serve until `stopping` is set (by a signal), then stop the pods."""
        self.register()
        threading.Thread(target=self.heartbeat, name="heartbeat", daemon=True).start()
        threading.Thread(target=self.watch_pods, name="watch", daemon=True).start()
        self.stopping.wait()
        self.stop_pods()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path, required=True, help="the cluster's folder")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    agent = Agent(ClusterLayout.load(args.state_dir))

    def on_signal(signum: int, _: object) -> None:
        log.info("signal %d: stopping pods", signum)
        agent.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("node %s at %s", NODE_NAME, agent.layout.node_ip)
    agent.run()
    log.info("stopped")


if __name__ == "__main__":
    main()
