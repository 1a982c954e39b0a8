"""What every checker returns: a verdict and the smallest story that shows it.

Jepsen's checkers answer ``:valid? true | false | :unknown``; so do ours.
``unknown`` is a first-class answer (a search that ran out of time, a
history with nothing to check) and is never rounded to either side. A
violation comes with the offending operations, few enough for a person to
read, in the order they happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minisys.consistency.history import Operation

OK, VIOLATION, UNKNOWN = "ok", "violation", "unknown"


@dataclass
class CheckResult:
    checker: str
    valid: bool | None  # True = holds, False = violated, None = unknown
    summary: str
    offending: list[Operation] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return OK if self.valid is True else VIOLATION if self.valid is False else UNKNOWN

    def explain(self) -> str:
        """The summary line, then one line per offending operation."""
        lines = [f"{self.checker}: {self.verdict}: {self.summary}"]
        lines += ["  " + op.describe() for op in sorted(self.offending, key=lambda o: (o.call, o.id))]
        return "\n".join(lines)

    def __bool__(self) -> bool:  # a violation or an unknown is not a pass
        return self.valid is True


def combine(checker: str, results: list[CheckResult]) -> CheckResult:
    """All must hold; the first violation explains, else the first unknown."""
    for r in results:
        if r.valid is False:
            return r
    for r in results:
        if r.valid is None:
            return r
    return CheckResult(checker, True, f"{len(results)} check(s) hold")
