"""FastAPI dependencies: the shared state and the API key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .errors import AuthenticationError
from .state import RuntimeState


def get_state(request: Request) -> RuntimeState:
    state: RuntimeState = request.app.state.runtime
    return state


State = Annotated[RuntimeState, Depends(get_state)]


def _key_matches(presented: str, keys: frozenset[str]) -> bool:
    # Compare against every key, in constant time each, so timing tells nothing.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def require_api_key(request: Request, state: State) -> None:
    if not state.api_keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationError(
            "missing API key: send 'Authorization: Bearer <key>' (this server has "
            "WHISPER_API_KEYS set)"
        )
    if not _key_matches(presented.strip(), state.api_keys):
        raise AuthenticationError("incorrect API key provided")


Authorized = Depends(require_api_key)
