#!/usr/bin/env bash
# End to end on kind (machines with Docker): a kind cluster, both images built and loaded,
# the chart installed, examples/demo applied, and the job waited for until Succeeded.
# Without a running Docker engine it says why and exits 0 (nothing to test here).
#
#   make e2e-kind                    # KEEP_CLUSTER=1 keeps the cluster afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER:-whisper-prod-e2e}
NAMESPACE=e2e
TAG=e2e
KIND=${KIND:-kind}
KUBECTL=${KUBECTL:-kubectl}
HELM=${HELM:-helm}

skip() { echo "SKIP e2e-kind: $*"; exit 0; }
command -v docker >/dev/null || skip "no docker command (kind needs a Docker engine)"
docker info >/dev/null 2>&1 || skip "docker cannot reach a running engine (docker info failed)"
for tool in "$KIND" "$KUBECTL" "$HELM"; do
  command -v "$tool" >/dev/null || { echo "e2e-kind needs $tool on PATH (go install sigs.k8s.io/kind@v0.33.0)"; exit 1; }
done

step() { echo "== $(date +%T) $*"; }

if ! "$KIND" get clusters | grep -qx "$CLUSTER"; then
  step "creating kind cluster $CLUSTER"
  "$KIND" create cluster --name "$CLUSTER" --wait 120s
fi
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ -z "${KEEP_CLUSTER:-}" ]; then "$KIND" delete cluster --name "$CLUSTER"; fi
}
trap cleanup EXIT
export KUBECONFIG=${KUBECONFIG:-$HOME/.kube/config}
"$KUBECTL" config use-context "kind-$CLUSTER"

step "building images"
docker build -f Dockerfile.operator -t "whisper-prod/operator:$TAG" .
docker build -f Dockerfile.runtime --build-arg BAKE_MODEL=tiny.en -t "whisper-prod/runtime:$TAG" .
"$KIND" load docker-image --name "$CLUSTER" "whisper-prod/operator:$TAG" "whisper-prod/runtime:$TAG"

step "installing the chart"
"$HELM" upgrade --install whisper-prod charts/whisper-prod \
  --namespace whisper-prod --create-namespace --wait --timeout 5m \
  --set operator.image.repository=whisper-prod/operator --set operator.image.tag="$TAG" \
  --set runtime.image.repository=whisper-prod/runtime --set runtime.image.tag="$TAG" \
  --set "operator.watchNamespaces={$NAMESPACE}"

step "serving the bundled calls to the cluster from this machine"
GATEWAY=$(docker network inspect kind --format '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' | tr ' ' '\n' | grep -E '^[0-9.]+$' | head -1)
PORT=${AUDIO_PORT:-8765}
python3 -m http.server "$PORT" --bind 0.0.0.0 --directory tests/fixtures/speech >/dev/null 2>&1 &
SERVER_PID=$!

step "applying examples/demo in namespace $NAMESPACE"
"$KUBECTL" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f -
"$KUBECTL" apply -n "$NAMESPACE" -f examples/demo/whisperpool.yaml
"$KUBECTL" wait -n "$NAMESPACE" wp/demo --for=condition=Ready --timeout=5m
sed "s#\${AUDIO_BASE_URL}#http://$GATEWAY:$PORT#" examples/demo/transcriptionjob.yaml \
  | "$KUBECTL" apply -n "$NAMESPACE" -f -

step "waiting for TranscriptionJob demo-calls"
if ! "$KUBECTL" wait -n "$NAMESPACE" tj/demo-calls --for=jsonpath='{.status.phase}'=Succeeded --timeout=10m; then
  "$KUBECTL" get -n "$NAMESPACE" tj,wp,pods,jobs -o wide || true
  "$KUBECTL" describe -n "$NAMESPACE" tj/demo-calls || true
  "$KUBECTL" logs -n whisper-prod -l app.kubernetes.io/component=operator --tail=100 || true
  exit 1
fi
"$KUBECTL" get -n "$NAMESPACE" tj demo-calls
"$KUBECTL" get -n "$NAMESPACE" tj demo-calls -o jsonpath='{range .status.results[*]}{.input}: {.text}{"\n"}{end}'
step "e2e-kind passed"
