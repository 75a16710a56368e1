"""The operator's only door to the Kubernetes API: server-side apply, get and delete."""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

log = logging.getLogger(__name__)
FIELD_MANAGER = "whisper-operator"
Manifest = dict[str, Any]


def connect() -> client.ApiClient:
    """In-cluster credentials in a pod, the current kubeconfig elsewhere."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]

    def _resource(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifest: Manifest) -> Manifest:
        """Create or update `manifest` (server-side apply: idempotent, no read-modify-write)."""
        resource = self._resource(manifest["apiVersion"], manifest["kind"])
        result = self.dynamic.server_side_apply(  # type: ignore[no-untyped-call]
            resource,
            body=manifest,
            name=manifest["metadata"]["name"],
            namespace=manifest["metadata"].get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        return dict(result.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        try:
            result = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return None
        return dict(result.to_dict())

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        try:
            self._resource(api_version, kind).delete(
                name=name, namespace=namespace, body={"propagationPolicy": "Background"}
            )
        except NotFoundError:
            return
