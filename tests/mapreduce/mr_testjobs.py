"""Jobs used by the MapReduce tests (module level, so worker processes can import them)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from minisys.mapreduce import Job, Step


class WordCount(Job):
    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word, 1

    def combine(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield word, sum(counts)

    def reduce(self, word: str, counts: Iterable[int]) -> Iterator[tuple[str, int]]:
        self.increment_counter("test", "reduce_calls")
        yield word, sum(counts)


class CountingWordCount(WordCount):
    """Word count that also counts lines in a user counter (for double-counting tests)."""

    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        self.increment_counter("test", "lines")
        yield from super().map(offset, line)


class SlowWordCount(CountingWordCount):
    """Sleeps per line so tasks last long enough to overlap, be killed, or straggle."""

    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        time.sleep(float(self.params.get("sleep", 0.002)) if self.params else 0.002)
        yield from super().map(offset, line)


class Crashy(WordCount):
    """Raises on any line containing the word BAD (a deterministic bug)."""

    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        if "BAD" in line:
            raise ValueError("cannot parse this line")
        yield from super().map(offset, line)


class TopWords(Job):
    """Two steps: word count, then the words grouped by count."""

    def steps(self) -> list[Step]:
        return [
            Step(map=WordCount.map.__get__(self), combine=WordCount.combine.__get__(self),
                 reduce=WordCount.reduce.__get__(self)),
            Step(map=self.by_count, reduce=self.collect),
        ]

    def by_count(self, word: str, count: int) -> Iterator[tuple[int, str]]:
        yield count, word

    def collect(self, count: int, words: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
        yield count, sorted(words)


class Unserialisable(Job):
    def map(self, offset: int, line: str) -> Iterator[tuple[str, object]]:
        yield line, {1, 2}
