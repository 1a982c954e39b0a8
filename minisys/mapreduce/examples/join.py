"""Reduce-side join: Map tags each row with the table it came from and keys it
by the join column; Reduce pairs every left row with every right row of the
key (an inner equi-join, what ``SELECT ... FROM a JOIN b ON a.k = b.k`` does).

The table is the input file's name without extension (``users.csv`` ->
``users``). Arguments: ``left=users left_key=id right=orders right_key=user_id``
(these are the defaults).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.job import Job

DEFAULTS = {"left": "users", "left_key": "id", "right": "orders", "right_key": "user_id"}


class Join(Job):
    def prepare(self, inputs: list[str], reduce_tasks: int) -> Any:
        params = {**DEFAULTS, **self.args}
        tables = {Path(p).stem for p in inputs}
        missing = {params["left"], params["right"]} - tables
        if missing:
            raise BadInput(f"join: no input file for table(s) {', '.join(sorted(missing))}; got {', '.join(sorted(tables))}")
        return params

    def setup(self) -> None:
        table = Path(self.input_path).stem if self.input_path else None
        p = self.params
        self.side = "L" if table == p["left"] else "R" if table == p["right"] else None
        self.column = p["left_key"] if self.side == "L" else p["right_key"]

    def map(self, offset: int, row: dict[str, Any]) -> Iterator[tuple[Any, list[Any]]]:
        if self.side is None:
            return
        yield row[self.column], [self.side, row]

    def reduce(self, key: Any, tagged: Iterable[list[Any]]) -> Iterator[tuple[Any, dict[str, Any]]]:
        left, right = [], []
        for side, row in tagged:
            (left if side == "L" else right).append(row)
        for lrow in left:
            for rrow in right:
                yield key, {**lrow, **rrow}
