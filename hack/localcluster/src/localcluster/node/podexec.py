"""Launcher of one container process, run inside the pod's network namespace and a mount
namespace of its own: bind-mount the volumes at their mount paths, then exec the program.

    ip netns exec NS unshare --mount --propagation private python -m localcluster.node.podexec SPEC
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _bind(source_fd: int, is_dir: bool, target: str, read_only: bool) -> None:
    if is_dir:
        Path(target).mkdir(parents=True, exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch(exist_ok=True)
    # Through the descriptor: a mount made earlier (an emptyDir at /tmp, say) may hide the
    # source's path by now, never the folder the descriptor holds.
    source = f"/proc/{os.getpid()}/fd/{source_fd}"
    # --no-canonicalize: resolving the descriptor's path to a string would find the hidden path.
    subprocess.run(["mount", "--no-canonicalize", "--bind", source, target], check=True)
    if read_only:
        subprocess.run(["mount", "-o", "remount,bind,ro", target], check=True)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    # Open every source before mounting anything.
    opened = [
        (os.open(source, os.O_PATH), Path(source).is_dir(), target, read_only)
        for source, target, read_only in spec["mounts"]
    ]
    # Host folders the program needs (this checkout's virtualenv, the Python it runs on)
    # stay visible even under a volume mounted above them, e.g. an emptyDir at /tmp.
    targets = [target for _, _, target, _ in opened]
    preserved = [
        (os.open(path, os.O_PATH), path)
        for path in spec.get("preserve", [])
        if Path(path).is_dir() and any(path.startswith(t.rstrip("/") + "/") for t in targets)
    ]
    for descriptor, is_dir, target, read_only in opened:
        _bind(descriptor, is_dir, target, read_only)
        os.close(descriptor)
    for descriptor, path in preserved:
        _bind(descriptor, True, path, False)
        os.close(descriptor)
    os.chdir(spec["cwd"])
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])  # noqa: S606 (the container program)
    except OSError as error:
        print(f"localcluster: cannot run {argv[0]}: {error}", file=sys.stderr, flush=True)
        sys.exit(127)


if __name__ == "__main__":
    main()
