"""Pod volumes as folders on this machine, bind-mounted at the containers' mount paths."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .podspec import ContainerConfigError, Lookup, field_value

JsonObject = dict[str, Any]
TokenRequester = Callable[[str, int, list[str]], str]  # (service account, seconds, audiences)


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


def _write(folder: Path, name: str, content: bytes, mode: int | None) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode if mode is not None else 0o644)


def _key_files(
    folder: Path, data: dict[str, bytes], items: list[JsonObject] | None, mode: int | None
) -> None:
    if items:
        for item in items:
            if item["key"] not in data:
                raise ContainerConfigError(f"key {item['key']} not found")
            _write(folder, item["path"], data[item["key"]], item.get("mode", mode))
    else:
        for key, value in data.items():
            _write(folder, key, value, mode)


def _object_data(kind: str, obj: JsonObject) -> dict[str, bytes]:
    if kind == "secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _from_object(
    folder: Path, kind: str, source: JsonObject, lookup: Lookup, mode: int | None
) -> None:
    name = source.get("secretName") if kind == "secret" else source.get("name")
    obj = lookup(kind, str(name))
    if obj is None:
        if source.get("optional"):
            return
        raise ContainerConfigError(f"{kind} {name} not found")
    _key_files(folder, _object_data(kind, obj), source.get("items"), mode)


def materialize_volumes(
    pod: JsonObject,
    root: Path,
    lookup: Lookup,
    request_token: TokenRequester,
    resolve_claim: Callable[[str], Path],
    pod_ip: str,
    host_ip: str,
) -> dict[str, Path]:
    """Create each volume of the pod under `root`; returns volume name -> folder."""
    folders: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        folder = root / name
        if "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") in ("DirectoryOrCreate", None, ""):
                path.mkdir(parents=True, exist_ok=True)
            folders[name] = path
            continue
        if "persistentVolumeClaim" in volume:
            folders[name] = resolve_claim(volume["persistentVolumeClaim"]["claimName"])
            continue
        folder.mkdir(parents=True, exist_ok=True)
        folders[name] = folder
        if "emptyDir" in volume:
            continue
        if "secret" in volume:
            source = volume["secret"]
            _from_object(folder, "secret", source, lookup, source.get("defaultMode"))
        elif "configMap" in volume:
            source = volume["configMap"]
            _from_object(folder, "configmap", source, lookup, source.get("defaultMode"))
        elif "downwardAPI" in volume:
            _downward(folder, pod, volume["downwardAPI"].get("items") or [], pod_ip, host_ip)
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode")
            for source in volume["projected"].get("sources") or []:
                if "serviceAccountToken" in source:
                    token_source = source["serviceAccountToken"]
                    audience = token_source.get("audience")
                    token = request_token(
                        pod["spec"].get("serviceAccountName") or "default",
                        int(token_source.get("expirationSeconds", 3607)),
                        [audience] if audience else [],
                    )
                    _write(folder, token_source["path"], token.encode(), mode)
                elif "configMap" in source:
                    _from_object(folder, "configmap", source["configMap"], lookup, mode)
                elif "secret" in source:
                    secret = dict(source["secret"], secretName=source["secret"].get("name"))
                    _from_object(folder, "secret", secret, lookup, mode)
                elif "downwardAPI" in source:
                    _downward(
                        folder, pod, source["downwardAPI"].get("items") or [], pod_ip, host_ip
                    )
        else:
            kinds = sorted(set(volume) - {"name"})
            raise ContainerConfigError(f"volume {name}: {', '.join(kinds)} is not supported here")
    return folders


def _downward(
    folder: Path, pod: JsonObject, items: list[JsonObject], pod_ip: str, host_ip: str
) -> None:
    for item in items:
        if "fieldRef" not in item:
            raise ContainerConfigError("downwardAPI resourceFieldRef is not supported here")
        value = field_value(pod, item["fieldRef"]["fieldPath"], pod_ip, host_ip)
        _write(folder, item["path"], value.encode(), item.get("mode"))


def container_mounts(container: JsonObject, folders: dict[str, Path]) -> list[Mount]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in folders:
            raise ContainerConfigError(f"volumeMount {mount['name']} names no volume")
        source = folders[mount["name"]]
        if mount.get("subPath"):
            source = source / mount["subPath"]
            if not source.exists():
                source.mkdir(parents=True)
        mounts.append(Mount(source, mount["mountPath"], bool(mount.get("readOnly"))))
    return mounts
