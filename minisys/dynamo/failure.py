"""Purely local failure detection (§4.8.3).

"Node A may consider node B failed if node B does not respond to node A's
messages (even if B is responsive to node C's messages)." A then routes
around B, using the alternates of the preference list, and "periodically
retries B". Dynamo dropped an early globally consistent detector; so do we:
each node keeps its own suspicion list, fed by failed calls, and lets a
suspicion expire after ``retry_after`` seconds so B is tried again.
"""

from __future__ import annotations

from collections.abc import Callable


class FailureDetector:
    """Which peers this node currently believes are down, from its own experience only."""

    def __init__(self, now: Callable[[], float], retry_after: float = 1.0) -> None:
        self._now = now
        self.retry_after = retry_after
        self._suspect_until: dict[str, float] = {}

    def suspect(self, node: str) -> None:
        """``node`` failed to answer us: route around it for a while."""
        self._suspect_until[node] = self._now() + self.retry_after

    def alive(self, node: str) -> None:
        """``node`` answered us: trust it again at once."""
        self._suspect_until.pop(node, None)

    def suspects_anyone(self) -> bool:
        """False when every peer counts as healthy (lets a coordinator skip per-node checks)."""
        return bool(self._suspect_until)

    def healthy(self, node: str) -> bool:
        until = self._suspect_until.get(node)
        if until is None:
            return True
        if self._now() >= until:  # time to retry B (§4.8.3 "periodically retries")
            del self._suspect_until[node]
            return True
        return False

    def suspected(self) -> list[str]:
        return sorted(n for n in list(self._suspect_until) if not self.healthy(n))
