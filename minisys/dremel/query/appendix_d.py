"""Dremel App. D (Fig. 19), literally: select-project with field readers, one value at a time.

This is the paper's algorithm as written, kept as the reference that the
vectorised evaluator (:mod:`.evaluate`) is tested against:

* one reader per field the query uses; an expression's repetition level is
  the largest maximum repetition level of its fields;
* ``Fetch`` advances only the readers whose next repetition level is at least
  ``fetchLevel``, then sets ``fetchLevel`` to the largest next level;
* after each fetch, if WHERE holds, every SELECT expression whose level is at
  least ``selectLevel`` is emitted and ``selectLevel = fetchLevel``; otherwise
  ``selectLevel = min(selectLevel, fetchLevel)``.

It handles SELECT (scalar expressions) and WHERE, no aggregation; it returns,
per select item, the emitted values in document order with their record
number. It is per-value Python, so it is slow: use ``Table.query``.
"""

from __future__ import annotations

import re
from typing import Any

from minisys.dremel.query.grammar import BinOp, Call, FieldRef, Literal, UnaryOp, parse
from minisys.dremel.query.planner import plan_query
from minisys.dremel.tablet import Table
from minisys.errors import BadInput


class _Reader:
    def __init__(self, values: list[Any], rep: list[int]) -> None:
        self.values = values
        self.rep = rep
        self.pos = -1

    def next_level(self) -> int | None:
        return self.rep[self.pos + 1] if self.pos + 1 < len(self.rep) else None

    @property
    def value(self) -> Any:
        return self.values[self.pos] if self.pos >= 0 else None


def scan(table: Table, sql: str) -> dict[str, list[tuple[int, Any]]]:
    """Emitted ``(record number, value)`` per select item, by Fig. 19's loop."""
    query = parse(sql)
    if not isinstance(query.source, str):
        raise BadInput("App. D reference: no subqueries")
    plan = plan_query(query, table.schema)
    if plan.aggregated or any(it.within is not None or it.within_record for it in plan.items):
        raise BadInput("App. D reference: select-project only (no aggregation)")
    out: dict[str, list[tuple[int, Any]]] = {it.name: [] for it in plan.items}
    levels = {it.name: _level(it.expr, table) for it in plan.items}
    record = -1
    for tablet in table.tablets:
        readers = {p: _Reader(tablet.column(p).slot_values().to_pylist(), tablet.column(p).rep.tolist())
                   for p in plan.columns}
        fetch_level = 0
        select_level = 0
        while True:
            # Fetch(): advance the readers that repeat at or below fetchLevel
            if fetch_level == 0 and all(r.next_level() is None for r in readers.values()):
                break
            if fetch_level == 0:
                record += 1
            next_level = 0
            for reader in readers.values():
                nxt = reader.next_level()
                if nxt is not None and nxt >= fetch_level:
                    reader.pos += 1
                nxt = reader.next_level()
                next_level = max(next_level, nxt or 0)
            fetch_level = next_level
            values = {p: r.value for p, r in readers.items()}
            if plan.where is None or _eval(plan.where, values) is True:
                for item in plan.items:
                    if levels[item.name] >= select_level:
                        out[item.name].append((record, _eval(item.expr, values)))
                select_level = fetch_level
            else:
                select_level = min(select_level, fetch_level)
    return out


def _level(expr: Any, table: Table) -> int:
    """An expression's repetition level: the most repeated field it reads."""
    if isinstance(expr, FieldRef):
        return table.schema.column(expr.path).max_r
    children = list(expr.args) if isinstance(expr, Call) else [expr.left, expr.right] if isinstance(expr, BinOp) \
        else [expr.operand] if isinstance(expr, UnaryOp) else []
    return max((_level(c, table) for c in children), default=0)


def _eval(e: Any, values: dict[str, Any]) -> Any:
    if isinstance(e, Literal):
        return e.value
    if isinstance(e, FieldRef):
        return values[e.path]
    if isinstance(e, UnaryOp):
        v = _eval(e.operand, values)
        if e.op == "ISNULL":
            return v is None
        if e.op == "NOTNULL":
            return v is not None
        if v is None:
            return None
        return (not v) if e.op == "NOT" else -v
    if isinstance(e, Call):
        args = [_eval(a, values) for a in e.args]
        if args[0] is None:
            return None
        fn = {"REGEXP": lambda: re.search(e.args[1].value, args[0]) is not None, "LENGTH": lambda: len(args[0]),
              "LOWER": lambda: args[0].lower(), "UPPER": lambda: args[0].upper(), "ABS": lambda: abs(args[0])}
        return fn[e.name]()
    a, b = _eval(e.left, values), _eval(e.right, values)
    if e.op == "AND":
        return False if a is False or b is False else (None if a is None or b is None else True)
    if e.op == "OR":
        return True if a is True or b is True else (None if a is None or b is None else False)
    if a is None or b is None:
        return None
    if e.op == "+":
        return f"{a}{b}" if isinstance(a, str) or isinstance(b, str) else a + b
    ops = {"-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b, "%": lambda: a % b,
           "=": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b, "<=": lambda: a <= b,
           ">": lambda: a > b, ">=": lambda: a >= b, "CONTAINS": lambda: b in a}
    return ops[e.op]()
