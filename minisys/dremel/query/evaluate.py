"""Evaluating expressions on columns without assembling records (Dremel App. D).

App. D reads one value at a time from each field reader and uses repetition
levels (``fetchLevel`` / ``selectLevel``) to decide which readers advance and
when an expression is emitted. This module computes the same alignment for a
whole tablet at once, with numpy over the levels:

* a *frame* is the set of instances of one repeated field (or of the record);
  it is read off any column at or below that field: an entry with ``r <= k``
  starts a new instance of the field that repeats at level ``k``;
* ``ids(k) = cumsum(r <= k) - 1`` numbers, for every entry, the instance it
  belongs to at level ``k``, so a value from a less repeated column is
  *broadcast* to the entries below it with one ``take`` (``Name.Url`` next to
  each ``Name.Language.Code``);
* an instance *exists* when ``d`` reaches the field's definition level; entries
  below that are the placeholders NULLs of §4.1 (a Name without Language).

Expressions are then pyarrow compute kernels over aligned arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minisys.dremel.query.grammar import BinOp, Call, FieldRef, Literal, QueryError, UnaryOp
from minisys.dremel.query.planner import context_level
from minisys.dremel.schema import Field
from minisys.dremel.striping import Column
from minisys.dremel.tablet import Tablet


class Frame:
    """The instances of one repeated field (``ctx``), or of the record (ctx None)."""

    def __init__(self, ctx: Field | None, rep: np.ndarray, defs: np.ndarray, num_records: int) -> None:
        self.ctx = ctx
        self.rep = rep
        self.defs = defs
        self.num_records = num_records
        self._ids: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rep)

    @property
    def level(self) -> int:
        return context_level(self.ctx)

    def exists(self) -> np.ndarray:
        if self.ctx is None:
            return np.ones(len(self.rep), dtype=bool)
        return self.defs >= self.ctx.max_d

    def ids(self, level: int) -> np.ndarray:
        """Instance number at repetition level ``level`` for every entry."""
        if level >= self.level:
            return np.arange(len(self.rep), dtype=np.int64)
        got = self._ids.get(level)
        if got is None:
            got = np.cumsum(self.rep <= level, dtype=np.int64) - 1
            self._ids[level] = got
        return got

    def count(self, level: int) -> int:
        if level >= self.level:
            return len(self.rep)
        return int(np.count_nonzero(self.rep <= level))


class TabletScan:
    """One tablet's columns, frames and the WHERE clause, as one query sees them."""

    def __init__(self, tablet: Tablet, sql: str) -> None:
        self.tablet = tablet
        self.sql = sql
        self._slot_values: dict[str, pa.Array] = {}
        self._frames: dict[Any, Frame] = {}
        self.where_true: np.ndarray | None = None
        self.where_frame: Frame | None = None

    def column(self, path: str) -> Column:
        return self.tablet.column(path)

    def frame(self, ctx: Field | None, columns: list[str]) -> Frame:
        """The frame of ``ctx``, read off a column at or below it among ``columns``."""
        key = ctx.path if ctx is not None else None
        if key in self._frames:
            return self._frames[key]
        if ctx is None:
            n = self.tablet.num_records
            frame = Frame(None, np.zeros(n, np.uint8), np.zeros(n, np.uint8), n)
        else:
            source = None
            for path in columns:
                leaf = self.tablet.schema.column(path)
                if ctx in [f for f in leaf.ancestors() if f.repeated]:
                    source = self.column(path)
                    if leaf.max_r == ctx.max_r:
                        break
            if source is None:  # a frame needs some column below the field
                source = self.column(self.tablet.schema.leaves_under(ctx.path)[0].path)
            rep, defs = source.rep, source.defs
            if source.field.max_r > ctx.max_r:
                starts = rep <= ctx.max_r
                rep, defs = rep[starts], defs[starts]
            frame = Frame(ctx, rep, defs, self.tablet.num_records)
        self._frames[key] = frame
        return frame

    def slot_values(self, path: str) -> pa.Array:
        got = self._slot_values.get(path)
        if got is None:
            got = self.column(path).slot_values()
            self._slot_values[path] = got
        return got

    # -- WHERE: prune sub-records (§5) ------------------------------------------
    def apply_where(self, where: Any, ctx: Field | None, columns: list[str]) -> None:
        frame = self.frame(ctx, columns)
        cond = self.evaluate(where, frame, columns)
        if not pa.types.is_boolean(cond.type):
            raise QueryError("WHERE needs a true/false condition", self.sql, getattr(where, "pos", 0))
        self.where_true = np.asarray(cond.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool) & frame.exists()
        self.where_frame = frame

    def keep(self, frame: Frame) -> np.ndarray:
        """Entries of ``frame`` that survive WHERE.

        An entry survives if the instance it shares with the WHERE frame (at
        their deepest common repeated field) has at least one entry for which
        the condition holds: sub-records below a failing one are pruned, and a
        record survives if anything in it matched.
        """
        if self.where_frame is None or self.where_true is None:
            return np.ones(len(frame), dtype=bool)
        if frame is self.where_frame:
            return self.where_true
        from minisys.dremel.query.planner import common_context

        level = context_level(common_context(self.where_frame.ctx, frame.ctx))
        w = self.where_frame
        alive = np.zeros(w.count(level), dtype=bool)
        alive[w.ids(level)[self.where_true]] = True
        return alive[frame.ids(level)]

    # -- expressions ------------------------------------------------------------
    def evaluate(self, expr: Any, frame: Frame, columns: list[str]) -> pa.Array:
        out = self._eval(expr, frame)
        if isinstance(out, pa.Scalar):
            return pa.repeat(out, len(frame)) if out.is_valid else pa.nulls(len(frame))
        return out

    def _eval(self, e: Any, frame: Frame) -> Any:
        if isinstance(e, Literal):
            return pa.scalar(e.value)
        if isinstance(e, FieldRef):
            leaf = self.tablet.schema.column(e.path)
            values = self.slot_values(e.path)
            if leaf.max_r == frame.level:
                return values
            return values.take(pa.array(frame.ids(leaf.max_r)))
        if isinstance(e, UnaryOp):
            v = self._eval(e.operand, frame)
            if e.op == "NOT":
                return pc.invert(self._bool(v, e))
            if e.op == "-":
                return pc.negate(v)
            if e.op == "ISNULL":
                return pc.is_null(v)
            return pc.is_valid(v)
        if isinstance(e, BinOp):
            return self._binop(e, frame)
        if isinstance(e, Call):
            args = [self._eval(a, frame) for a in e.args]
            try:
                if e.name == "REGEXP":
                    return pc.match_substring_regex(args[0], pattern=e.args[1].value)
                if e.name == "LENGTH":
                    return pc.utf8_length(args[0])
                if e.name == "LOWER":
                    return pc.utf8_lower(args[0])
                if e.name == "UPPER":
                    return pc.utf8_upper(args[0])
                if e.name == "ABS":
                    return pc.abs(args[0])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise QueryError(f"{e.name}: {str(exc).splitlines()[0]}", self.sql, e.pos) from None
            raise QueryError(f"aggregate {e.name} is not allowed here", self.sql, e.pos)
        raise TypeError(e)

    def _bool(self, v: Any, e: Any) -> Any:
        if not pa.types.is_boolean(v.type):
            raise QueryError(f"{e.op} needs true/false operands, got {v.type}", self.sql, e.pos)
        return v

    def _binop(self, e: BinOp, frame: Frame) -> Any:
        a, b = self._eval(e.left, frame), self._eval(e.right, frame)
        try:
            if e.op == "AND":
                return pc.and_kleene(self._bool(a, e), self._bool(b, e))
            if e.op == "OR":
                return pc.or_kleene(self._bool(a, e), self._bool(b, e))
            if e.op == "CONTAINS":
                if not isinstance(e.right, Literal) or not isinstance(e.right.value, str):
                    raise QueryError("CONTAINS needs a string literal on its right", self.sql, e.pos)
                return pc.match_substring(a, pattern=e.right.value)
            strings = pa.types.is_string(a.type) or pa.types.is_string(b.type)
            if e.op == "+" and strings:
                return pc.binary_join_element_wise(_as_string(a), _as_string(b), "")
            if e.op in ("+", "-", "*", "/", "%"):
                if strings:
                    raise QueryError(f"{e.op} is not defined for strings", self.sql, e.pos)
                if e.op == "+":
                    return pc.add(a, b)
                if e.op == "-":
                    return pc.subtract(a, b)
                if e.op == "*":
                    return pc.multiply(a, b)
                if e.op == "/":
                    return pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64()))
                return pc.subtract(a, pc.multiply(pc.floor(pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64()))), b))
            fn = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
                  ">": pc.greater, ">=": pc.greater_equal}[e.op]
            return fn(a, b)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise QueryError(f"cannot apply {e.op} to {a.type} and {b.type}: {str(exc).splitlines()[0]}",
                             self.sql, e.pos) from None


def _as_string(v: Any) -> Any:
    if pa.types.is_string(v.type):
        return v
    return pc.cast(v, pa.string())
