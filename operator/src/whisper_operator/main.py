"""`whisper-operator`: run the operator against the current kubeconfig or in-cluster config.

Settings come from WHISPER_OPERATOR_* variables (see --help); the flags override them.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

import kopf
from prometheus_client import start_http_server

from .cleanup import delete_pool_and_wait
from .context import OperatorContext
from .handlers import SERVICE_ACCOUNT, build_registry
from .kube import Kube, connect
from .metrics import OperatorMetrics
from .settings import OperatorSettings


def own_namespace() -> str:
    path = SERVICE_ACCOUNT / "namespace"
    if not path.exists():
        raise SystemExit("--delete-pool outside a pod needs --namespace")
    return path.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    fields = OperatorSettings.model_fields
    parser = argparse.ArgumentParser(
        prog="whisper-operator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: "
        + "; ".join(
            f"WHISPER_OPERATOR_{name.upper()}: {f.description}" for name, f in fields.items()
        ),
    )
    parser.add_argument(
        "--namespace", action="append", default=[], help="watch only these (repeatable)"
    )
    parser.add_argument("--standalone", action="store_true", default=None, help="no peering")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    parser.add_argument(
        "--delete-pool",
        metavar="NAME",
        help="instead of running: delete this WhisperPool in the first --namespace (or the "
        "pod's own), wait until the running operator has finalized it, and exit (the chart's "
        "pre-delete hook)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds --delete-pool waits (default 300)"
    )
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.namespace:
        overrides["namespaces"] = ",".join(args.namespace)
    if args.standalone:
        overrides["standalone"] = True
    settings = OperatorSettings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Kopf logs every timer run at INFO; the operator's own log says what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if args.delete_pool:
        namespace = (args.namespace or [own_namespace()])[0]
        try:
            delete_pool_and_wait(Kube(connect()), args.delete_pool, namespace, args.timeout)
        except TimeoutError as error:
            raise SystemExit(str(error)) from None
        return 0
    metrics = OperatorMetrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.registry)
    namespaces = settings.namespace_list
    kopf.run(
        registry=build_registry(settings.status_interval_seconds),
        memo=OperatorContext(settings=settings, metrics=metrics),
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=settings.standalone,
        peering_name=settings.peering_name,
        priority=settings.peering_priority or secrets.randbelow(1_000_000) + 1,
        liveness_endpoint=settings.liveness_endpoint or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
