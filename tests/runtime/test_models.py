from __future__ import annotations

from pathlib import Path

import pytest

from whisper_runtime.models import ModelNotFoundError, packaged_model_dir, resolve_model

pytestmark = pytest.mark.unit


def test_packaged_tiny_en_resolves_without_a_download(tmp_path: Path) -> None:
    path = Path(resolve_model("tiny.en", tmp_path))
    assert (path / "model.bin").exists()
    assert not any(tmp_path.iterdir())  # a single-part package is used in place


def test_multipart_base_is_joined_once_into_the_cache(tmp_path: Path) -> None:
    first = packaged_model_dir("base", tmp_path)
    assert first is not None
    assert first.parent == tmp_path
    assert (first / "model.bin").stat().st_size > 100_000_000
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in first.iterdir()}
    mtime = (first / "model.bin").stat().st_mtime_ns
    assert packaged_model_dir("base", tmp_path) == first
    assert (first / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_other_names_go_to_faster_whisper(tmp_path: Path) -> None:
    assert resolve_model("large-v3", tmp_path) == "large-v3"
    assert resolve_model("Systran/faster-whisper-small", tmp_path) == "Systran/faster-whisper-small"


def test_missing_directories_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model("/models/nothing/here", tmp_path)
    with pytest.raises(ModelNotFoundError, match="holds no model.bin"):
        resolve_model(str(tmp_path), tmp_path)


def test_relative_paths_are_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model("./models/tiny", tmp_path)
