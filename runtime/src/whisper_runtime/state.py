"""What the HTTP layer shares between requests: settings, metrics and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import Engine
from .errors import NotReadyError
from .metrics import Metrics
from .settings import RuntimeSettings


@dataclass
class RuntimeState:
    settings: RuntimeSettings
    metrics: Metrics
    api_keys: frozenset[str]
    engine: Engine | None = None
    load_error: str | None = None
    created: int = field(default=0)

    @property
    def model_id(self) -> str:
        return self.settings.served_model_name or self.settings.model

    def ready_engine(self) -> Engine:
        if self.engine is None:
            reason = self.load_error or "the model is still loading"
            raise NotReadyError(f"not ready: {reason}")
        return self.engine
