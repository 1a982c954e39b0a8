"""Word count, the paper's Appendix A: Map emits (word, 1), the combiner and
Reduce add (the same ``Adder`` code, §4.3).

:class:`WordCount` is the textbook form: one ``(word, 1)`` pair per word, the
combiner collapsing them when the map buffer spills. :class:`FastWordCount`
does the combiner's work inside the map task ("in-mapper combining", mrjob's
``mapper_final``): it buffers lines and counts their words a batch at a time
with C code (one ``str.split`` and one ``Counter.update`` per 10,000 lines),
and emits each word once, at ``teardown``. Same output, several times faster
in Python, at the price of memory proportional to the split's vocabulary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from minisys.mapreduce.job import Job


class WordCount(Job):
    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word, 1

    def combine(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)

    def reduce(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)


class FastWordCount(WordCount):
    combine = None  # the map task has already combined: each word leaves it once

    #: Lines buffered before one ``Counter.update`` of their words (amortises the
    #: per-call checks; splitting one joined string is a single C call).
    BATCH = 10_000

    def setup(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lines: list[str] = []

    def map(self, offset: int, line: str) -> Iterable[tuple[str, int]]:
        lines = self.lines
        lines.append(line)
        if len(lines) >= self.BATCH:
            self.counts.update(" ".join(lines).split())
            lines.clear()
        return ()  # nothing yet: each word leaves the task once, at teardown

    def teardown(self) -> Iterator[tuple[str, int]]:
        self.counts.update(" ".join(self.lines).split())
        self.lines.clear()
        yield from self.counts.items()
