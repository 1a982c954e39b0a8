"""The comparison workload shared by the scenarios and the benchmark.

The same question — "how many values does field X hold?" for k fields, a
within-record count, a GROUP BY — asked three ways on the same data:

* minisys Dremel: ``SELECT COUNT(a), COUNT(b) ... FROM t`` on the columns;
* DuckDB: the equivalent SQL over nested Parquet / a native table, written
  generically from the schema with list lambdas (``list_transform``), since
  UNNEST would multiply rows across sibling lists;
* the record-oriented baseline: parse every whole record (JSON lines) and
  walk it in Python — what a row store must do (Fig. 9's record curves).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from minisys.dremel.schema import Field, Schema

FIELD_COUNTS = (1, 2, 5, 10, 20)


def pick_fields(schema: Schema, seed: int) -> list[str]:
    """A seeded order of the leaf columns; the first k are "k fields" (Fig. 9)."""
    paths = [f.path for f in schema.leaves]
    order = np.random.default_rng(seed).permutation(len(paths))
    return [paths[i] for i in order]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_count_expr(leaf: Field) -> str:
    """Per-record count of the leaf's non-NULL values, in DuckDB SQL."""
    nodes = leaf.ancestors()

    def build(i: int, base: str | None, depth: int) -> str:
        if i == len(nodes):
            return f"CASE WHEN {base} IS NULL THEN 0 ELSE 1 END"
        node = nodes[i]
        expr = _ident(node.name) if base is None else f"{base}.{_ident(node.name)}"
        if node.repeated:
            var = f"x{depth}"
            inner = build(i + 1, var, depth + 1)
            return f"coalesce(list_sum(list_transform({expr}, lambda {var}: {inner})), 0)"
        return build(i + 1, expr, depth)

    return build(0, None, 0)


def dremel_counts_sql(paths: list[str]) -> str:
    return "SELECT " + ", ".join(f"COUNT({p})" for p in paths) + " FROM t"


def duckdb_counts_sql(schema: Schema, paths: list[str], source: str) -> str:
    return "SELECT " + ", ".join(f"sum({duckdb_count_expr(schema.column(p))})::BIGINT" for p in paths) + f" FROM {source}"


def within_record_sql(schema: Schema) -> tuple[str, str, str] | None:
    """(Dremel, DuckDB template, the leaf): count of the most repeated leaf per record."""
    leaf = max(schema.leaves, key=lambda f: (f.max_r, -schema.leaves.index(f)))
    if leaf.max_r == 0:
        return None
    first = schema.leaves[0]
    return (f"SELECT {first.path}, COUNT({leaf.path}) WITHIN RECORD AS n FROM t",
            f"SELECT {'.'.join(_ident(p) for p in first.path.split('.'))}, {duckdb_count_expr(leaf)} AS n FROM {{src}}",
            leaf.path)


def group_key(schema: Schema) -> Field | None:
    """A top-level scalar to GROUP BY: ``Year`` in the Document data, else the last one."""
    candidates = [f for f in schema.root.children if f.is_leaf and not f.repeated and f.type != "double"]
    named = [f for f in candidates if f.name == "Year"]
    return (named or candidates[-1:] or [None])[0]


# -- the record-oriented baseline ------------------------------------------------------------
def count_values(record: Any, names: list[tuple[str, bool]]) -> int:
    """Walk one parsed record along a path; lists multiply, NULL and [] count 0."""
    if not names:
        return 0 if record is None else 1
    if record is None:
        return 0
    name, _repeated = names[0]
    value = record.get(name)
    if isinstance(value, list):
        return sum(count_values(v, names[1:]) for v in value)
    return count_values(value, names[1:])


def path_names(schema: Schema, path: str) -> list[tuple[str, bool]]:
    return [(f.name, f.repeated) for f in schema.column(path).ancestors()]


def records_counts(jsonl: Path, schema: Schema, paths: list[str]) -> list[int]:
    """Read and parse every whole record, then count: the row-store way."""
    walks = [path_names(schema, p) for p in paths]
    totals = [0] * len(paths)
    with open(jsonl) as f:
        for line in f:
            rec = json.loads(line)
            for i, w in enumerate(walks):
                totals[i] += count_values(rec, w)
    return totals
