"""A small Kubernetes REST client on httpx: enough for the node agent and the tests.

It reads a kubeconfig with client certificates (what this cluster writes) and speaks JSON;
objects are plain dicts, as the API sends them.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

JsonObject = dict[str, Any]


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        super().__init__(f"HTTP {status}: {message}")


def _ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    config = yaml.safe_load(kubeconfig.read_text())
    context_name = config["current-context"]
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    ssl_context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ssl_context.load_cert_chain(str(cert), str(key))
    return str(cluster["server"]), ssl_context


class Kube:
    """Synchronous client; one per thread is not needed (httpx.Client is thread-safe)."""

    def __init__(self, kubeconfig: Path, timeout: float = 30) -> None:
        server, context = _ssl_context(kubeconfig)
        self.server = server
        self._client = httpx.Client(base_url=server, verify=context, timeout=timeout)
        self._watch_client = httpx.Client(
            base_url=server, verify=context, timeout=httpx.Timeout(10, read=None)
        )

    def close(self) -> None:
        self._client.close()
        self._watch_client.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> JsonObject:
        response = self._client.request(
            method,
            path,
            params=params,
            content=None if body is None else json.dumps(body),
            headers={"Content-Type": content_type},
        )
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.text)
        return response.json() if response.content else {}

    def get(self, path: str, **params: Any) -> JsonObject:
        return self.request("GET", path, params=params or None)

    def get_or_none(self, path: str) -> JsonObject | None:
        try:
            return self.get(path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def create(self, path: str, body: JsonObject) -> JsonObject:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: JsonObject) -> JsonObject:
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path: str, body: JsonObject | None = None) -> JsonObject:
        try:
            return self.request("DELETE", path, body)
        except ApiError as error:
            if error.status == 404:
                return {}
            raise

    def watch(
        self, path: str, resource_version: str, **params: Any
    ) -> Iterator[tuple[str, JsonObject]]:
        """(type, object) events until the server ends the watch."""
        query = {
            **params,
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
        }
        with self._watch_client.stream("GET", path, params=query) as response:
            if response.status_code >= 400:
                raise ApiError(response.status_code, response.read().decode())
            for line in response.iter_lines():
                if line:
                    event = json.loads(line)
                    yield event["type"], event["object"]
