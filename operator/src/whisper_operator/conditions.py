"""Standard conditions (type, status, reason, message, lastTransitionTime, observedGeneration)."""

from __future__ import annotations

import datetime
from typing import Any

Condition = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    kind: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> list[Condition]:
    """`conditions` with `kind` set; lastTransitionTime changes only when status does."""
    value = "True" if status else "False"
    previous = next((c for c in conditions if c.get("type") == kind), None)
    transition = now
    if previous is not None and previous.get("status") == value:
        transition = previous.get("lastTransitionTime", now)
    updated: Condition = {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
        "observedGeneration": generation,
    }
    return [c for c in conditions if c.get("type") != kind] + [updated]


def condition_status(conditions: list[Condition], kind: str) -> str | None:
    return next((c.get("status") for c in conditions if c.get("type") == kind), None)
