from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from whisper_runtime.settings import RuntimeSettings, cgroup_cpu_quota, physical_cores

pytestmark = pytest.mark.unit


def test_every_setting_has_an_environment_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_MODEL", "small")
    monkeypatch.setenv("WHISPER_MAX_UPLOAD_MB", "2.5")
    monkeypatch.setenv("WHISPER_VAD", "true")
    monkeypatch.setenv("WHISPER_DEVICE", "cuda")
    settings = RuntimeSettings()
    assert settings.model == "small"
    assert settings.max_upload_bytes == int(2.5 * 1024 * 1024)
    assert settings.vad is True
    # cuda picks the batching scheduler and one worker.
    assert settings.resolved_scheduler == "batched"
    assert settings.resolved_workers == 1
    # Explicit values (the CLI's flags) win over the environment.
    assert RuntimeSettings(model="base").model == "base"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="device"):
        RuntimeSettings(device="tpu")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="max_upload_mb"):
        RuntimeSettings(max_upload_mb=0)
    monkeypatch.setenv("WHISPER_MAX_QUEUE", "lots")
    with pytest.raises(ValidationError, match="max_queue"):
        RuntimeSettings()


def test_api_keys_from_variable_and_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("file-key\n\n  other-key  \n")
    settings = RuntimeSettings(api_keys=" sk-alpha , sk-beta,,", api_keys_file=keys_file)  # type: ignore[arg-type]
    assert settings.load_api_keys() == frozenset({"sk-alpha", "sk-beta", "file-key", "other-key"})
    assert "sk-alpha" not in repr(settings)  # secrets stay out of logs
    assert RuntimeSettings().load_api_keys() == frozenset()


def test_cpu_workers_follow_the_cores() -> None:
    settings = RuntimeSettings(device="cpu")
    assert settings.resolved_scheduler == "parallel"
    assert settings.resolved_workers == physical_cores()
    assert settings.resolved_cpu_threads == 1
    assert RuntimeSettings(workers=1, cpu_threads=0).resolved_cpu_threads == physical_cores()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("max 100000", None), ("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1)],
)
def test_cgroup_cpu_limit(tmp_path: Path, content: str, expected: int | None) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content + "\n")
    assert cgroup_cpu_quota(cpu_max) == expected
    assert cgroup_cpu_quota(tmp_path / "missing") is None
    if expected is not None:
        assert physical_cores(cpu_max) <= expected
