"""One-way message delay distributions for the simulated network.

Why several: protocols are sensitive to the *shape* of latency, not only its
mean. Constant delay keeps every link FIFO and hides reordering bugs; uniform
and exponential delays reorder messages; long tails (log-normal, Pareto) are
what make a sloppy quorum or a backup task worth having (Dynamo §6, MapReduce
§3.6). Each distribution draws only from the RNG it is handed, so the
simulator's one seed decides every delay.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class Latency(Protocol):
    def sample(self, rng: random.Random) -> float:
        """One delay in seconds, >= 0."""
        ...


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(what)


@dataclass(frozen=True)
class Constant:
    """Every message takes exactly ``seconds``: links stay FIFO."""

    seconds: float

    def __post_init__(self) -> None:
        _check(self.seconds >= 0, f"latency must be >= 0, got {self.seconds}")

    def sample(self, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True)
class Uniform:
    """Uniform between ``low`` and ``high`` seconds."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check(0 <= self.low <= self.high, f"need 0 <= low <= high, got {self.low}, {self.high}")

    def sample(self, rng: random.Random) -> float:
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True)
class Exponential:
    """``floor`` plus an exponential with mean ``mean``: a queueing-delay shape."""

    mean: float
    floor: float = 0.0

    def __post_init__(self) -> None:
        _check(self.mean > 0 and self.floor >= 0, "need mean > 0 and floor >= 0")

    def sample(self, rng: random.Random) -> float:
        return self.floor + rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True)
class LogNormal:
    """Long tail: median ``median`` seconds, spread ``sigma`` (0.5 mild, 1.5 heavy)."""

    median: float
    sigma: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        _check(self.median > 0 and self.sigma >= 0, "need median > 0 and sigma >= 0")

    def sample(self, rng: random.Random) -> float:
        return min(self.cap, rng.lognormvariate(math.log(self.median), self.sigma))


@dataclass(frozen=True)
class Pareto:
    """Heavy tail: at least ``scale`` seconds, tail index ``alpha`` (smaller = heavier)."""

    scale: float
    alpha: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        _check(self.scale > 0 and self.alpha > 0, "need scale > 0 and alpha > 0")

    def sample(self, rng: random.Random) -> float:
        return min(self.cap, self.scale * rng.paretovariate(self.alpha))
