"""`local-cluster`: a real Kubernetes control plane on this machine, in the background.

local-cluster up        build (once) and start it; KUBECONFIG=.local-cluster/kubeconfig
local-cluster down      stop every process it started
local-cluster status    what runs
local-cluster logs NAMESPACE/POD [-c CONTAINER]   a pod's container log
local-cluster kubectl ARGS...                     kubectl against it
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from .build import ensure_binaries
from .controlplane import COMPONENTS, running_pid, start, stop
from .layout import ClusterLayout
from .network import check_support

DEFAULT_STATE_DIR = Path(".local-cluster")


def up(state_dir: Path, instance: int) -> int:
    if (state_dir / "cluster.json").exists():
        layout = ClusterLayout.load(state_dir)
        if running_pid(layout, "kube-apiserver") is not None:
            print(f"already running; KUBECONFIG={layout.kubeconfig}")
            return 0
        stop(layout)
    problem = check_support()
    if problem is not None:
        print(f"error: pods need network namespaces: {problem}", file=sys.stderr)
        return 1
    binaries = ensure_binaries()
    shutil.rmtree(state_dir, ignore_errors=True)  # a fresh cluster each time
    layout = ClusterLayout.new(state_dir, instance)
    started = time.monotonic()
    try:
        start(layout, binaries)
    except Exception as error:
        stop(layout)
        print(f"error: the cluster did not start: {error}", file=sys.stderr)
        return 1
    print(
        f"local cluster ready in {time.monotonic() - started:.1f} s at {layout.apiserver_url}\n"
        f"  export KUBECONFIG={layout.kubeconfig}\n"
        f"  logs: {layout.logs_dir}; pods' logs: local-cluster logs NAMESPACE/POD"
    )
    return 0


def down(state_dir: Path) -> int:
    if not (state_dir / "cluster.json").exists():
        print("no local cluster here")
        return 0
    stop(ClusterLayout.load(state_dir))
    print("local cluster stopped")
    return 0


def status(state_dir: Path) -> int:
    if not (state_dir / "cluster.json").exists():
        print("no local cluster here")
        return 1
    layout = ClusterLayout.load(state_dir)
    healthy = True
    for component in COMPONENTS:
        pid = running_pid(layout, component)
        healthy &= pid is not None
        print(f"{component:<24} {'running, pid ' + str(pid) if pid else 'stopped'}")
    print(f"KUBECONFIG={layout.kubeconfig}")
    return 0 if healthy else 1


def logs(state_dir: Path, pod: str, container: str | None) -> int:
    namespace, _, name = pod.rpartition("/")
    folders = sorted((state_dir / "pods").glob(f"{namespace or 'default'}_{name}_*"))
    if not folders:
        print(f"no logs of pod {pod}", file=sys.stderr)
        return 1
    files = sorted(folders[-1].glob(f"{container or '*'}.log"))
    for file in files:
        if len(files) > 1:
            print(f"==> {file.stem} <==")
        sys.stdout.write(file.read_text(errors="replace"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local-cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="default: %(default)s"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up_parser = commands.add_parser("up", help="build (once) and start the cluster")
    up_parser.add_argument(
        "--instance", type=int, default=0, help="bridge wpbrN, pods in 10.244.N.0/24"
    )
    commands.add_parser("down", help="stop it")
    commands.add_parser("status", help="show its processes")
    logs_parser = commands.add_parser("logs", help="print a pod's container logs")
    logs_parser.add_argument("pod", metavar="NAMESPACE/POD")
    logs_parser.add_argument("-c", "--container")
    kubectl = commands.add_parser("kubectl", help="run kubectl against it", add_help=False)
    kubectl.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    state_dir = args.state_dir.resolve()
    if args.command == "up":
        return up(state_dir, args.instance)
    if args.command == "down":
        return down(state_dir)
    if args.command == "status":
        return status(state_dir)
    if args.command == "logs":
        return logs(state_dir, args.pod, args.container)
    binaries = ensure_binaries()
    os.environ["KUBECONFIG"] = str(state_dir / "kubeconfig")
    os.execv(str(binaries.kubectl), ["kubectl", *args.args])  # noqa: S606 (replaces this CLI)


if __name__ == "__main__":
    sys.exit(main())
