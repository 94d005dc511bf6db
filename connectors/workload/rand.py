"""Fast draws for the hot paths (``random.Random.randint``/``choice`` cost ~10x more).

Built on ``rng.random()`` only, so a seed still fixes every draw.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["between", "pick", "weighted"]

T = TypeVar("T")


def between(rng: random.Random, low: int, high: int) -> int:
    """An int in [low, high], both included."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """One element of a non-empty sequence."""
    return items[int(rng.random() * len(items))]


def weighted(rng: random.Random, items: Sequence[T], cumulative: Sequence[float]) -> T:
    """One element drawn by cumulative weights (``cumulative[-1]`` is the total)."""
    return items[bisect_right(cumulative, rng.random() * cumulative[-1])]
