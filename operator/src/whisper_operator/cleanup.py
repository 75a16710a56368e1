"""Delete a WhisperPool and wait until the running operator has finalized it.

Helm deletes a release's objects all at once: a WhisperPool deleted together with the
operator Deployment would keep its finalizer forever. The chart's pre-delete hook runs this
first, while the operator still runs.
"""

from __future__ import annotations

import logging
import time

from . import GROUP, VERSION
from .kube import Kube

log = logging.getLogger(__name__)


def delete_pool_and_wait(
    kube: Kube, name: str, namespace: str, timeout: float, poll_seconds: float = 1.0
) -> None:
    kube.delete(f"{GROUP}/{VERSION}", "WhisperPool", name, namespace)
    log.info("deleting WhisperPool %s/%s; waiting for the operator to finalize it", namespace, name)
    deadline = time.monotonic() + timeout
    while kube.get(f"{GROUP}/{VERSION}", "WhisperPool", name, namespace) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"WhisperPool {namespace}/{name} is still there after {timeout:.0f} s: is the "
                "operator running? Without it, remove the whisperprod.io/finalizer finalizer "
                f"by hand: kubectl patch wp {name} -n {namespace} --type=merge "
                '-p \'{"metadata":{"finalizers":null}}\''
            )
        time.sleep(poll_seconds)
    log.info("WhisperPool %s/%s is gone", namespace, name)
