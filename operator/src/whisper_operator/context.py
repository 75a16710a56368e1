"""What every handler needs, built once at start-up and passed to Kopf as its memo."""

from __future__ import annotations

from dataclasses import dataclass, field

from .kube import Kube
from .metrics import OperatorMetrics
from .settings import OperatorSettings


@dataclass
class OperatorContext:
    settings: OperatorSettings
    metrics: OperatorMetrics
    kube: Kube | None = None  # connected in the startup handler
    # job uid -> (namespace, phase), for the jobs-by-phase gauge; deletions drop theirs
    job_phases: dict[str, tuple[str, str]] = field(default_factory=dict)

    def api(self) -> Kube:
        if self.kube is None:
            raise RuntimeError("the operator is not connected to the API yet")
        return self.kube
