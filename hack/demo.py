"""The main job on one machine (make demo): the local control plane, the CRDs, the
operator, and the example manifests of examples/demo; then each call's transcript, read
from the TranscriptionJob's status.

    make demo            # then `make cluster-down` stops the control plane
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localcluster.build import ensure_binaries  # noqa: E402
from localcluster.cli import DEFAULT_STATE_DIR, up  # noqa: E402
from localcluster.layout import ClusterLayout  # noqa: E402
from tests.speech import SPEECH_DIR, english_clips, word_error_rate  # noqa: E402


def kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    result = subprocess.run(
        [str(kubectl_path()), *args],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        input=input, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@functools.cache
def kubectl_path() -> Path:
    return ensure_binaries().kubectl  # built on first use, then from the cache


def main() -> int:
    state_dir = (ROOT / DEFAULT_STATE_DIR).resolve()
    print(
        "1/5 starting the local control plane (built from Go modules on first use) ...", flush=True
    )
    if up(state_dir, instance=0) != 0:
        return 1
    layout = ClusterLayout.load(state_dir)
    kubeconfig = layout.kubeconfig

    print("2/5 installing the CRDs ...", flush=True)
    kubectl(kubeconfig, "apply", "-f", str(ROOT / "crds"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

    print("3/5 starting whisper-operator ...", flush=True)
    log_path = layout.logs_dir / "operator.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "WHISPER_OPERATOR_METRICS_PORT": "0",
        "WHISPER_OPERATOR_LIVENESS_ENDPOINT": "",
    }
    with log_path.open("ab") as log:
        operator = subprocess.Popen(
            [sys.executable, "-m", "whisper_operator.main", "--standalone"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SPEECH_DIR))
    handler.log_message = lambda *_: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer((layout.node_ip, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    audio_base_url = f"http://{layout.node_ip}:{server.server_address[1]}"
    try:
        print("4/5 applying examples/demo (a WhisperPool and a TranscriptionJob) ...", flush=True)
        demo = ROOT / "examples" / "demo"
        kubectl(kubeconfig, "delete", "tj", "demo-calls", "--ignore-not-found", "--wait=true")
        manifests = (demo / "whisperpool.yaml").read_text() + "---\n"
        manifests += (
            (demo / "transcriptionjob.yaml")
            .read_text()
            .replace("${AUDIO_BASE_URL}", audio_base_url)
        )
        started = time.monotonic()
        kubectl(kubeconfig, "apply", "-f", "-", input=manifests)
        print("5/5 waiting for the job (kubectl get tj -w shows the same) ...", flush=True)
        last = ""
        status: dict[str, Any] = {}
        while time.monotonic() - started < 600:
            job = json.loads(kubectl(kubeconfig, "get", "tj", "demo-calls", "-o", "json"))
            status = job.get("status") or {}
            line = (
                f"    phase {status.get('phase', '-')}: {status.get('succeeded', 0)} succeeded, "
                f"{status.get('failed', 0)} failed of {status.get('total', '?')}"
            )
            if line != last:
                print(line, flush=True)
                last = line
            if status.get("phase") in ("Succeeded", "Failed"):
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        results = {r["input"].rsplit("/", 1)[-1]: r for r in status.get("results", [])}
        references, hypotheses = [], []
        for clip in english_clips():
            result = results.get(clip.path.name, {})
            text = result.get("text") or f"({result.get('error', 'no result')})"
            print(f"\n{clip.path.name}\n  spoken:      {clip.text}\n  transcribed: {text}")
            references.append(clip.text)
            hypotheses.append(result.get("text", ""))
        wer = word_error_rate(references, hypotheses)
        print(
            f"\nTranscriptionJob demo-calls {status.get('phase')} in {elapsed:.1f} s after "
            f"kubectl apply: {status.get('audioSeconds')} s of audio, word error rate {wer:.1%}"
        )
        print(
            f"The cluster keeps running: export KUBECONFIG={kubeconfig}; kubectl get wp,tj,pods\n"
            "Stop it with: make cluster-down"
        )
        return 0 if status.get("phase") == "Succeeded" else 1
    finally:
        server.shutdown()
        operator.terminate()
        operator.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
