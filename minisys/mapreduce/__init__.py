"""MapReduce (Dean & Ghemawat, OSDI 2004): a faithful, small implementation.

    from minisys.mapreduce import Job, run

    class WordCount(Job):
        def map(self, offset, line):
            for word in line.split():
                yield word, 1
        def reduce(self, word, counts):
            yield word, sum(counts)

    result = run(WordCount, ["book.txt"], "out", runner="local", workers=2)
    print(result.counters, dict(result.pairs()))

See docs/mapreduce.md for the paper map (section -> module -> test). The
names below are imported on first use, so ``minisys --help`` (which imports
``minisys.mapreduce.cli``) does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minisys.mapreduce.driver import JobFailed, RunResult
    from minisys.mapreduce.job import Job, Step
    from minisys.mapreduce.master import MasterConfig
    from minisys.mapreduce.runners import run

_EXPORTS = {
    "Job": "minisys.mapreduce.job",
    "Step": "minisys.mapreduce.job",
    "JobFailed": "minisys.mapreduce.driver",
    "RunResult": "minisys.mapreduce.driver",
    "MasterConfig": "minisys.mapreduce.master",
    "run": "minisys.mapreduce.runners",
}

__all__ = ["Job", "JobFailed", "MasterConfig", "RunResult", "Step", "run"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'minisys.mapreduce' has no attribute {name!r}")
