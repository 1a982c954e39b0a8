"""Query results: nested output records and the output schema (Dremel §5, Fig. 6).

A query's output is again a nested table with a schema (the language is
closed). Each output value sits at its expression's nesting level: inside the
repeated groups of its context, so ``Str`` computed per ``Name.Language``
lands in ``Name { Language { Str } }`` and ``Cnt ... WITHIN Name`` in
``Name { Cnt }``. Instances with no surviving value are not emitted, which
is how WHERE prunes sub-records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minisys.dremel.schema import Field, Schema

if TYPE_CHECKING:
    from minisys.dremel.query.evaluate import TabletScan
    from minisys.dremel.query.planner import OutputItem, Plan
    from minisys.dremel.tablet import Table

_SCHEMA_TYPES = {"int64": "int64", "int32": "int32", "uint64": "uint64", "double": "double", "float": "float",
                 "bool": "bool", "string": "string", "binary": "bytes", "large_string": "string", "null": "string"}


class Result:
    """Records (nested dicts) or a flat Arrow table, with the output schema."""

    def __init__(self, records: list[dict[str, Any]] | None = None, table: pa.Table | None = None,
                 schema: Schema | None = None, partial: bool = False,
                 tablets_scanned: int = 0, tablets_total: int = 0, omit_nulls: bool = False) -> None:
        self._records = records
        self.omit_nulls = omit_nulls  # flat rows of a nested query: NULL means "absent"
        self._table = table
        self.schema = schema
        self.partial = partial
        self.tablets_scanned = tablets_scanned
        self.tablets_total = tablets_total

    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            assert self._table is not None
            rows = self._table.to_pylist()
            if self.omit_nulls:
                rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
            self._records = rows
        return self._records

    def to_arrow(self) -> pa.Table:
        if self._table is None:
            arrow_schema = self.schema.to_arrow() if self.schema is not None else None
            self._table = pa.Table.from_pylist(self.records(), schema=arrow_schema)
        return self._table

    def as_table(self) -> Table:
        """This result as a table, so another query can read it (§5: closure)."""
        from minisys.dremel.tablet import Table

        if self._table is not None:
            return Table.from_arrow(self._table.cast(self.schema.to_arrow()) if self.schema else self._table, self.schema)
        return Table.from_records(self.schema, self.records())

    def __len__(self) -> int:
        return self._table.num_rows if self._table is not None else len(self.records())

    def __repr__(self) -> str:
        note = f", partial: {self.tablets_scanned}/{self.tablets_total} tablets" if self.partial else ""
        return f"Result({len(self)} rows{note})"


def is_flat(plan: Plan) -> bool:
    """Every output sits at record level (no repeated group in the output)."""
    return all(it.within_record or (it.within is None and it.context is None) for it in plan.items)


def flat_rows(plan: Plan, scan: TabletScan) -> pa.Table:
    """A flat result as Arrow columns, one row per surviving record (no Python loop)."""
    frame = scan.frame(None, plan.columns)
    alive = pa.array(scan.keep(frame))
    cols = {}
    for item in plan.items:
        values = _within(plan, scan, item, frame) if item.within_record else \
            scan.evaluate(item.expr, frame, plan.columns)
        cols[item.name] = values.filter(alive)
    return pa.table(cols)


def build_records(plan: Plan, scan: TabletScan) -> list[dict[str, Any]]:
    """Nested output records for one tablet, in document order."""
    from minisys.dremel.query.planner import chain

    n = scan.tablet.num_records
    root_frame = scan.frame(None, plan.columns)
    alive = scan.keep(root_frame)
    records: dict[int, dict[str, Any]] = {i: {} for i in np.flatnonzero(alive).tolist()}
    nodes: dict[tuple[int, int], dict[str, Any]] = {}
    children: dict[tuple[int, int], list[tuple[int, str, int, dict[str, Any]]]] = {}
    for item in plan.items:
        ctx = item.within if item.within is not None or item.within_record else item.context
        if item.within_record:
            ctx = None
        frame = scan.frame(ctx, plan.columns)
        if item.within is not None or item.within_record:
            values = _within(plan, scan, item, frame)
        else:
            values = scan.evaluate(item.expr, frame, plan.columns)
        mask = frame.exists() & scan.keep(frame)
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        groups = chain(ctx)
        leaf_list = ctx is not None and ctx.is_leaf
        if leaf_list:
            groups = groups[:-1]
        level_ids = [frame.ids(0)[idx].tolist()] + [frame.ids(g.max_r)[idx].tolist() for g in groups]
        vals = values.take(pa.array(idx)).to_pylist()
        for j, value in enumerate(vals):
            rec = level_ids[0][j]
            target = records.get(rec)
            if target is None:
                continue
            parent_key = (0, rec)
            for depth, g in enumerate(groups, start=1):
                key = (depth, level_ids[depth][j])
                node = nodes.get(key)
                if node is None:
                    node = nodes[key] = {}
                    children.setdefault(parent_key, []).append((level_ids[depth][j], g.name, depth, node))
                parent_key = key
                target = node
            if leaf_list:
                if value is not None:
                    target.setdefault(item.name, []).append(value)
            elif value is not None:
                target[item.name] = value
    # attach nested instances to their parents in id (document) order
    for key in sorted(children, key=lambda k: (-k[0], k[1])):
        parent = records.get(key[1]) if key[0] == 0 else nodes[key]
        if parent is None:
            continue
        for _id, name, _depth, node in sorted(children[key], key=lambda c: c[0]):
            parent.setdefault(name, []).append(node)
    del n
    return [records[i] for i in sorted(records)]


def _within(plan: Plan, scan: TabletScan, item: OutputItem, frame: Any) -> pa.Array:
    """``AGG(x) WITHIN path``: one value per instance of ``path`` (or per record)."""
    call = item.expr
    arg = call.args[0]
    inner = scan.frame(item.context, plan.columns)
    values = scan.evaluate(arg, inner, plan.columns)
    level = frame.level
    gid = inner.ids(level)
    mask = inner.exists() & scan.keep(inner) & np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if call.name == "COUNT" and not call.distinct:  # counting needs only the levels: one bincount
        return pa.array(np.bincount(gid[mask], minlength=len(frame)).astype(np.uint64))
    t = pa.table({"g": pa.array(gid[mask]), "v": values.filter(pa.array(mask))})
    func = "count_distinct" if call.distinct else {"COUNT": "count", "SUM": "sum", "MIN": "min", "MAX": "max", "AVG": "mean"}[call.name]
    agg = t.group_by(["g"]).aggregate([("v", func)])
    positions = np.full(len(frame), -1, dtype=np.int64)
    positions[agg.column("g").to_numpy()] = np.arange(agg.num_rows)
    out = agg.column(f"v_{func}").combine_chunks().take(pa.array(positions, mask=positions < 0))
    if call.name == "COUNT":
        out = pc.cast(out.fill_null(0), pa.uint64())
    return out


def output_schema(plan: Plan, table: pa.Table | None = None) -> Schema:
    """The result's schema, in the paper's syntax (``message QueryResult``)."""
    from minisys.dremel.query.planner import chain

    root: list[Field] = []
    if table is not None:
        for f in table.schema:
            root.append(Field(f.name, "optional", _schema_type(f.type)))
        return Schema("QueryResult", root)
    groups: dict[str, Field] = {}
    for item in plan.items:
        ctx = None if item.within_record else (item.within or item.context)
        path = chain(ctx)
        leaf_list = ctx is not None and ctx.is_leaf
        if leaf_list:
            path = path[:-1]
        siblings = root
        for g in path:
            node = groups.get(g.path)
            if node is None:
                node = groups[g.path] = Field(g.name, "repeated", None, [])
                siblings.append(node)
            siblings = node.children
        typ, label = _item_type(plan, item)
        siblings.append(Field(item.name, "repeated" if leaf_list else label, typ))
    return Schema("QueryResult", root)


def _item_type(plan: Plan, item: OutputItem) -> tuple[str, str]:
    from minisys.dremel.query.grammar import BinOp, Call, FieldRef, Literal, UnaryOp

    e = item.expr
    if item.within is not None or item.within_record:
        if e.name == "COUNT":
            return "uint64", "optional"
        if e.name == "AVG":
            return "double", "optional"
        e = e.args[0]
    label = item.label if item.label in ("required", "optional") else "optional"

    def typ(x: Any) -> str:
        if isinstance(x, FieldRef):
            return plan.schema.column(x.path).type or "string"
        if isinstance(x, Literal):
            return {bool: "bool", int: "int64", float: "double", str: "string"}.get(type(x.value), "string")
        if isinstance(x, BinOp):
            if x.op in ("=", "!=", "<", "<=", ">", ">=", "AND", "OR", "CONTAINS"):
                return "bool"
            a, b = typ(x.left), typ(x.right)
            if "string" in (a, b):
                return "string"
            return "double" if x.op == "/" or "double" in (a, b) else a
        if isinstance(x, UnaryOp):
            return "bool" if x.op != "-" else typ(x.operand)
        if isinstance(x, Call):
            return {"REGEXP": "bool", "LENGTH": "int64"}.get(x.name) or typ(x.args[0])
        return "string"

    return typ(e), label


def _schema_type(t: pa.DataType) -> str:
    return _SCHEMA_TYPES.get(str(t), "string")
