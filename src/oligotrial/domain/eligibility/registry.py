"""The registry of criterion leaves: a leaf module registers each factory under the name that
protocol YAML uses (``@leaf("age")``); the compiler looks them up. Kept apart from the compiler so
that the leaves (``eligibility.criteria``) and the compiler each import it, and not each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oligotrial.domain.eligibility.kleene import Node

LeafFactory = Callable[[Any], Node]
_LEAVES: dict[str, LeafFactory] = {}


def leaf(name: str) -> Callable[[LeafFactory], LeafFactory]:
    """Register a leaf factory: it receives the YAML parameters and returns a Node."""

    def deco(fn: LeafFactory) -> LeafFactory:
        _LEAVES[name] = fn
        return fn

    return deco


def registered() -> dict[str, LeafFactory]:
    """The leaves registered so far, by name (read-only use)."""
    return _LEAVES
