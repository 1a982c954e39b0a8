"""Running a plan: per-tablet partial results, merging, finishing (Dremel §5, §6).

The executor is split the way the serving tree splits a query:

* :func:`scan_tablet` is what a *leaf server* does for one tablet: evaluate the
  query on the tablet's columns and return a :class:`Partial` — nested output
  records for a query without aggregation, or partial aggregates per group;
* :func:`merge_partials` is what an *intermediate server* does: combine its
  children's partials into one (sum of counts, min of mins, union of distinct
  values ...), itself a valid partial;
* :func:`finish` is the *root*: turn partial aggregates into final values, apply
  ORDER BY / LIMIT / TOP and produce a :class:`Result`.

:func:`execute` runs all three in one process, tablet after tablet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minisys.dremel.query.evaluate import TabletScan
from minisys.dremel.query.grammar import (
    BinOp,
    Call,
    FieldRef,
    Literal,
    QueryError,
    UnaryOp,
    parse,
    text_of,
)
from minisys.dremel.query.planner import Aggregate, Plan, plan_query
from minisys.dremel.query.result import Result, build_records, flat_rows, is_flat, output_schema
from minisys.dremel.tablet import Table, Tablet

#: Partial-aggregate state columns per function, and how a merge combines them.
PARTIAL_STATE = {
    "COUNT": [("count", "sum")],
    "COUNT_STAR": [("count_all", "sum")],
    "SUM": [("sum", "sum")],
    "MIN": [("min", "min")],
    "MAX": [("max", "max")],
    "AVG": [("sum", "sum"), ("count", "sum")],
}


@dataclass
class Partial:
    """A leaf's or intermediate's answer: records, flat rows, or one table per aggregate."""

    records: list[dict[str, Any]] = field(default_factory=list)
    aggregates: list[pa.Table] = field(default_factory=list)
    flat: list[pa.Table] = field(default_factory=list)  # one row per record: every output at record level
    tablets: int = 0
    tablets_skipped: int = 0


# -- leaves -----------------------------------------------------------------
def may_match(plan: Plan, tablet: Tablet) -> bool:
    """False if min/max statistics prove WHERE fails for every record of the tablet."""
    for conj in _conjuncts(plan.where):
        if not isinstance(conj, BinOp) or conj.op not in ("=", "<", "<=", ">", ">="):
            continue
        op, ref, lit = conj.op, conj.left, conj.right
        if isinstance(ref, Literal) and isinstance(lit, FieldRef):
            ref, lit = lit, ref
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
        if not (isinstance(ref, FieldRef) and isinstance(lit, Literal)) or lit.value is None:
            continue
        stats = tablet.stats(ref.path)
        if stats.get("values") == 0:
            return False
        lo, hi = stats.get("min"), stats.get("max")
        if lo is None or hi is None or isinstance(lit.value, bool):
            continue
        try:
            ok = {"=": lo <= lit.value <= hi, "<": lo < lit.value, "<=": lo <= lit.value,
                  ">": hi > lit.value, ">=": hi >= lit.value}[op]
        except TypeError:
            continue
        if not ok:
            return False
    return True


def _conjuncts(e: Any) -> list[Any]:
    if e is None:
        return []
    if isinstance(e, BinOp) and e.op == "AND":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def scan_tablet(plan: Plan, tablet: Tablet) -> Partial:
    """A leaf's work for one tablet (§6): only the plan's columns are read."""
    if not may_match(plan, tablet):
        return Partial(tablets=1, tablets_skipped=1)
    scan = TabletScan(tablet, plan.query.sql)
    if plan.where is not None:
        scan.apply_where(plan.where, plan.where_context, plan.columns)
    if plan.aggregated:
        return Partial(aggregates=_partial_aggregates(plan, scan), tablets=1)
    if is_flat(plan):
        return Partial(flat=[flat_rows(plan, scan)], tablets=1)
    return Partial(records=build_records(plan, scan), tablets=1)


def _key_names(plan: Plan) -> list[str]:
    return [f"k{i}" for i in range(len(plan.group_keys))]


def _partial_aggregates(plan: Plan, scan: TabletScan) -> list[pa.Table]:
    """One partial table per aggregate; aggregates at one level share one pass."""
    out: dict[int, pa.Table] = {}
    by_context: dict[Any, list[int]] = {}
    for i, agg in enumerate(plan.aggregates):
        if not plan.group_keys and agg.func != "COUNT_DISTINCT":
            out[i] = _ungrouped(plan, scan, agg, scan.frame(agg.context, plan.columns))
        else:
            by_context.setdefault(agg.context.path if agg.context is not None else None, []).append(i)
    keys = _key_names(plan)
    for members in by_context.values():
        frame = scan.frame(plan.aggregates[members[0]].context, plan.columns)
        # Rows are the flattened entries, placeholders of empty repeated fields
        # included (their values are NULL), as BigQuery's implicit FLATTEN does.
        mask = pa.array(scan.keep(frame))
        cols: dict[str, Any] = {name: scan.evaluate(key, frame, plan.columns) for name, key in zip(keys, plan.group_keys, strict=True)}
        for i in members:
            if plan.aggregates[i].arg is not None:
                cols[f"v{i}"] = scan.evaluate(plan.aggregates[i].arg, frame, plan.columns)
        table = pa.table(cols) if cols else pa.table({"_": pa.nulls(len(frame))})
        table = table.filter(mask)
        specs: list[Any] = []
        names: list[str] = []
        for i in members:
            agg = plan.aggregates[i]
            if agg.func == "COUNT_DISTINCT":
                t = table.select(keys + [f"v{i}"]).rename_columns(keys + ["v"])
                out[i] = t.filter(pc.is_valid(t.column("v"))).group_by(keys + ["v"]).aggregate([])
                continue
            if agg.func in ("SUM", "AVG") and not _numeric(table.column(f"v{i}").type):
                raise QueryError(f"{agg.func} needs numbers, got {table.column(f'v{i}').type}", plan.query.sql,
                                 getattr(agg.arg, "pos", 0))
            for j, (fn, _) in enumerate(PARTIAL_STATE[agg.func]):
                specs.append(([], "count_all") if fn == "count_all" else (f"v{i}", fn))
                names.append(f"{i}.s{j}")
        if specs:
            grouped = table.group_by(keys, use_threads=False).aggregate(specs)
            keys_first = grouped.column_names[:len(keys)] == keys
            grouped = grouped.rename_columns(keys + names if keys_first else names + keys)
            for i in members:
                if plan.aggregates[i].func == "COUNT_DISTINCT":
                    continue
                state = [n for n in names if n.startswith(f"{i}.")]
                out[i] = grouped.select(keys + state).rename_columns(keys + [f"s{j}" for j in range(len(state))])
    return [out[i] for i in range(len(plan.aggregates))]


def _ungrouped(plan: Plan, scan: TabletScan, agg: Aggregate, frame: Any) -> pa.Table:
    """Aggregates without GROUP BY, straight off the column.

    ``COUNT(x)`` reads only x's definition levels (a value is present where
    ``d`` equals the column's max), never its values — the level-only read
    Parquet users ask pyarrow for (apache/arrow#30305).
    """
    mask = scan.keep(frame)
    if agg.func == "COUNT_STAR":
        return pa.table({"s0": pa.array([int(np.count_nonzero(mask))], pa.int64())})
    arg = agg.arg
    if isinstance(arg, FieldRef):
        col = scan.column(arg.path)
        defined = col.defs == col.field.max_d
        if agg.func == "COUNT":
            return pa.table({"s0": pa.array([int(np.count_nonzero(defined & mask))], pa.int64())})
        values = col.values if mask.all() else col.values.filter(pa.array(mask[defined]))
    else:
        v = scan.evaluate(arg, frame, plan.columns).filter(pa.array(mask))
        values = v.filter(pc.is_valid(v))
        if agg.func == "COUNT":
            return pa.table({"s0": pa.array([len(values)], pa.int64())})
    if agg.func in ("SUM", "AVG") and not _numeric(values.type):
        raise QueryError(f"{agg.func} needs numbers, got {values.type}", plan.query.sql, getattr(arg, "pos", 0))
    if agg.func == "SUM":
        return pa.table({"s0": pa.array([pc.sum(values).as_py()], _sum_type(values.type))})
    if agg.func == "AVG":
        return pa.table({"s0": pa.array([pc.sum(values).as_py()], _sum_type(values.type)),
                         "s1": pa.array([len(values)], pa.int64())})
    mm = pc.min_max(values)
    return pa.table({"s0": pa.array([mm["min" if agg.func == "MIN" else "max"].as_py()], values.type)})


def _sum_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_floating(t):
        return pa.float64()
    return pa.uint64() if pa.types.is_unsigned_integer(t) else pa.int64()


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


# -- intermediate servers -----------------------------------------------------
def merge_partials(plan: Plan, parts: list[Partial]) -> Partial:
    """Combine children's partials (§6): the rewritten query one level up."""
    out = Partial(tablets=sum(p.tablets for p in parts), tablets_skipped=sum(p.tablets_skipped for p in parts))
    if not plan.aggregated:
        for p in parts:
            out.records.extend(p.records)
            out.flat.extend(p.flat)
        if len(out.flat) > 1:
            out.flat = [pa.concat_tables(out.flat, promote_options="permissive")]
        return out
    keys = _key_names(plan)
    for i, agg in enumerate(plan.aggregates):
        tables = [p.aggregates[i] for p in parts if p.aggregates]
        if not tables:
            continue
        merged = pa.concat_tables(tables, promote_options="permissive")
        if agg.func == "COUNT_DISTINCT":
            out.aggregates.append(merged.group_by(keys + ["v"]).aggregate([]))
            continue
        states = PARTIAL_STATE[agg.func]
        m = merged.group_by(keys).aggregate([(f"s{j}", merge) for j, (_, merge) in enumerate(states)])
        out.aggregates.append(m.rename_columns(keys + [f"s{j}" for j in range(len(states))]))
    return out


# -- the root -------------------------------------------------------------------
def finish(plan: Plan, partial: Partial, tablets_total: int | None = None) -> Result:
    total = tablets_total if tablets_total is not None else partial.tablets
    is_partial = partial.tablets < total
    if not plan.aggregated and is_flat(plan):
        table = pa.concat_tables(partial.flat, promote_options="permissive") if partial.flat else \
            pa.table({it.name: pa.nulls(0) for it in plan.items})
        if plan.order_by:
            table = table.sort_by([(name, "descending" if desc else "ascending") for name, desc in plan.order_by])
        if plan.limit is not None:
            table = table.slice(0, plan.limit)
        return Result(table=table, schema=output_schema(plan), partial=is_partial, tablets_scanned=partial.tablets,
                      tablets_total=total, omit_nulls=True)
    if not plan.aggregated:
        records = partial.records
        if plan.order_by:
            for name, desc in reversed(plan.order_by):
                records = sorted(records, key=lambda r: _sort_key(r.get(name), desc), reverse=desc)
        if plan.limit is not None:
            records = records[: plan.limit]
        return Result(records=records, schema=output_schema(plan), partial=is_partial,
                      tablets_scanned=partial.tablets, tablets_total=total)
    table = _final_table(plan, partial)
    if plan.order_by:
        table = table.sort_by([(name, "descending" if desc else "ascending") for name, desc in plan.order_by])
    if plan.limit is not None:
        table = table.slice(0, plan.limit)
    table = table.select([it.name for it in plan.items])
    return Result(table=table, schema=output_schema(plan, table), partial=is_partial,
                  tablets_scanned=partial.tablets, tablets_total=total)


def _sort_key(v: Any, desc: bool) -> tuple[int, Any]:
    return (0 if v is None else 1, v) if desc else (1 if v is None else 0, v)


def _final_table(plan: Plan, partial: Partial) -> pa.Table:
    """Final values per group, joined across aggregates by group key."""
    keys = _key_names(plan)
    groups: dict[tuple, dict[str, Any]] = {}
    key_types: list[pa.DataType | None] = [None] * len(keys)
    finals: list[dict[tuple, Any]] = []
    for i, agg in enumerate(plan.aggregates):
        t = partial.aggregates[i] if i < len(partial.aggregates) else None
        values: dict[tuple, Any] = {}
        if t is not None and t.num_rows:
            for j, k in enumerate(keys):
                key_types[j] = t.schema.field(k).type
            if agg.func == "COUNT_DISTINCT":
                t = t.group_by(keys).aggregate([("v", "count")]).rename_columns(keys + ["s0"])
            cols = [t.column(k).to_pylist() for k in keys]
            states = [t.column(f"s{j}").to_pylist() for j in range(t.num_columns - len(keys))]
            for row in range(t.num_rows):
                key = tuple(c[row] for c in cols)
                groups.setdefault(key, {})
                if agg.func == "AVG":
                    s, c = states[0][row], states[1][row]
                    values[key] = (s / c) if c else None
                else:
                    values[key] = states[0][row]
        finals.append(values)
    if not keys and not groups:
        groups[()] = {}
    env_columns: dict[str, list[Any]] = {}
    ordered = list(groups)
    for j in range(len(keys)):
        env_columns[text_of(plan.group_keys[j])] = [g[j] for g in ordered]
    for i, agg in enumerate(plan.aggregates):
        default = 0 if agg.func in ("COUNT", "COUNT_STAR", "COUNT_DISTINCT") else None
        env_columns["__" + agg.key] = [finals[i].get(g, default) for g in ordered]
    env: dict[str, pa.Array] = {}
    for name, vals in env_columns.items():
        env[name] = pa.array(vals)
    for j in range(len(keys)):
        name = text_of(plan.group_keys[j])
        if key_types[j] is not None:
            env[name] = env[name].cast(key_types[j])
    for agg in plan.aggregates:
        if agg.func in ("COUNT", "COUNT_STAR", "COUNT_DISTINCT"):
            env["__" + agg.key] = env["__" + agg.key].cast(pa.uint64())
    out = {}
    for item in plan.items:
        out[item.name] = _eval_final(item.expr, env, len(ordered), plan.query.sql)
    for name, _ in plan.order_by:
        if name.startswith("__"):
            out[name] = env[name]
    return pa.table(out)


def _eval_final(e: Any, env: dict[str, pa.Array], n: int, sql: str) -> pa.Array:
    """Evaluate an output expression over final aggregates and group keys."""
    t = text_of(e)
    if t in env:
        return env[t]
    if isinstance(e, Call) and "__" + t in env:
        return env["__" + t]
    if isinstance(e, Literal):
        return pa.repeat(pa.scalar(e.value), n) if e.value is not None else pa.nulls(n)
    if isinstance(e, BinOp):
        a, b = _eval_final(e.left, env, n, sql), _eval_final(e.right, env, n, sql)
        if e.op == "/":
            return pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64()))
        if e.op == "+" and (pa.types.is_string(a.type) or pa.types.is_string(b.type)):
            return pc.binary_join_element_wise(pc.cast(a, pa.string()), pc.cast(b, pa.string()), "")
        fn = {"+": pc.add, "-": pc.subtract, "*": pc.multiply, "=": pc.equal, "!=": pc.not_equal,
              "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal,
              "AND": pc.and_kleene, "OR": pc.or_kleene}.get(e.op)
        if fn is None:
            raise QueryError(f"{e.op} is not supported over aggregates", sql, e.pos)
        if pa.types.is_unsigned_integer(a.type) or pa.types.is_unsigned_integer(b.type):
            a, b = pc.cast(a, pa.int64()), pc.cast(b, pa.int64())
        return fn(a, b)
    if isinstance(e, UnaryOp) and e.op == "-":
        return pc.negate(pc.cast(_eval_final(e.operand, env, n, sql), pa.float64()))
    raise QueryError(f"{text_of(e)} must appear in GROUP BY or inside an aggregate", sql, getattr(e, "pos", 0))


# -- one process, all tablets ------------------------------------------------------
def prepare(table: Table, sql: str) -> tuple[Plan, Table]:
    """Parse and plan; a subquery in FROM runs first and becomes a table (§5 closure)."""
    query = parse(sql)
    source = table
    if not isinstance(query.source, str):
        source = _execute_query(table, query.source).as_table()
    return plan_query(query, source.schema), source


def _execute_query(table: Table, query: Any) -> Result:
    source = table
    if not isinstance(query.source, str):
        source = _execute_query(table, query.source).as_table()
    plan = plan_query(query, source.schema)
    return run_plan(plan, source)


def run_plan(plan: Plan, table: Table) -> Result:
    parts = [scan_tablet(plan, t) for t in table.tablets]
    return finish(plan, merge_partials(plan, parts), tablets_total=len(table.tablets))


def execute(table: Table, sql: str) -> Result:
    """Parse, plan and run ``sql`` over every tablet of ``table``."""
    plan, source = prepare(table, sql)
    return run_plan(plan, source)


__all__ = ["Partial", "execute", "finish", "merge_partials", "prepare", "run_plan", "scan_tablet"]
