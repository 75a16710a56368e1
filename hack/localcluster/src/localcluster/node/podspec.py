"""Pure functions from a Pod object to what runs: the program, its environment, its files.

Images choose the local environment: this project's runtime and operator images map to the
virtualenv the agent runs in (their entrypoints are known); any other image runs its
`command` on the host, since there is no image to read an entrypoint from.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ImageProfile:
    kind: str  # "runtime", "operator" or "host"
    entrypoint: tuple[str, ...] = ()
    default_args: tuple[str, ...] = ()
    path_prefix: str | None = None


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name.lower()


def image_profile(image: str, venv_bin: Path | None = None) -> ImageProfile:
    """How to run `image` here. whisper-prod's images (any registry, any tag, e.g.
    ghcr.io/acme/whisper-prod-runtime:1.2 or whisper-prod/runtime) use this virtualenv."""
    repository = _repository(image)
    bin_dir = str(venv_bin or Path(sys.executable).parent)
    if "whisper" in repository and repository.endswith("runtime"):
        return ImageProfile("runtime", ("whisper-runtime",), ("serve",), bin_dir)
    if "whisper" in repository and repository.endswith("operator"):
        return ImageProfile("operator", ("whisper-operator",), (), bin_dir)
    return ImageProfile("host")


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, undefined ones kept,
    and $$ escapes a dollar."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


class ContainerConfigError(ValueError):
    """The container cannot be started as specified (kubelet's CreateContainerConfigError)."""


def container_argv(container: JsonObject, profile: ImageProfile, env: dict[str, str]) -> list[str]:
    command = container.get("command")
    args = container.get("args")
    if command is None:
        if not profile.entrypoint:
            raise ContainerConfigError(
                f"image {container.get('image')} is not one of whisper-prod's images, so its "
                "entrypoint is unknown here: give the container a command"
            )
        command = list(profile.entrypoint)
        if args is None:
            args = list(profile.default_args)
    return [expand(part, env) for part in [*command, *(args or [])]]


def field_value(pod: JsonObject, path: str, pod_ip: str, host_ip: str) -> str:
    metadata = pod.get("metadata", {})
    spec = pod.get("spec", {})
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str(metadata.get(match.group(1), {}).get(match.group(2), ""))
    raise ContainerConfigError(f"unsupported fieldRef {path}")


Lookup = Callable[[str, str], JsonObject | None]  # (kind, name) -> object in the pod's namespace


def _key_value(kind: str, ref: JsonObject, lookup: Lookup) -> str | None:
    obj = lookup(kind, ref["name"])
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f"{kind} {ref['name']} not found")
    data = _string_data(kind, obj)
    if ref["key"] not in data:
        if optional:
            return None
        raise ContainerConfigError(f"key {ref['key']} not found in {kind} {ref['name']}")
    return data[ref["key"]]


def _string_data(kind: str, obj: JsonObject) -> dict[str, str]:
    import base64

    if kind == "secret":
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


def container_env(
    pod: JsonObject,
    container: JsonObject,
    lookup: Lookup,
    pod_ip: str,
    host_ip: str,
    base: dict[str, str],
) -> dict[str, str]:
    """The container's environment: `base` (the kubelet's own variables), then envFrom,
    then env in order, each value able to refer to those before it."""
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            if key not in source:
                continue
            ref = source[key]
            obj = lookup(kind, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f"{kind} {ref['name']} not found")
            env.update({prefix + k: v for k, v in _string_data(kind, obj).items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            env[name] = expand(item["value"], env)
            continue
        source = item.get("valueFrom")
        if not source:
            env[name] = ""
            continue
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "secretKeyRef" in source:
            value = _key_value("secret", source["secretKeyRef"], lookup)
        elif "configMapKeyRef" in source:
            value = _key_value("configmap", source["configMapKeyRef"], lookup)
        elif "resourceFieldRef" in source:
            value = resource_value(container, source["resourceFieldRef"])
        else:
            raise ContainerConfigError(f"unsupported valueFrom for {name}")
        if value is not None:
            env[name] = value
    return env


def resource_value(container: JsonObject, ref: JsonObject) -> str:
    section, _, resource = ref["resource"].partition(".")
    value = (container.get("resources") or {}).get(section, {}).get(resource)
    if value is None:
        return "0"
    return str(value)


def container_ports(container: JsonObject) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if "name" in p}
