"""Distributed grep (§2.3, §5.2): Map emits the lines matching a pattern;
Reduce is the identity. Run with ``--arg pattern=REGEX``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.job import Job


class Grep(Job):
    def prepare(self, inputs: list[str], reduce_tasks: int) -> Any:
        pattern = self.args.get("pattern")
        if not pattern:
            raise BadInput("grep needs --arg pattern=REGEX")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadInput(f"grep: bad pattern {pattern!r}: {exc}") from None
        return {"pattern": pattern}

    def setup(self) -> None:
        self.search = re.compile(self.params["pattern"]).search

    def map(self, offset: int, line: str) -> Iterator[tuple[str, int]]:
        if self.search(line):
            self.increment_counter("grep", "matches")
            yield line, 1

    def reduce(self, line: str, ones: Iterable[int]) -> Iterator[tuple[str, int]]:
        yield line, sum(ones)
