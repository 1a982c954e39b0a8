"""``minisys dremel``: load nested data into a table, query it, show its columns.

    minisys dremel load docs.jsonl --out docs/            # or .parquet / .json; --schema FILE
    minisys dremel query "SELECT COUNT(*) FROM t" --table docs/
    minisys dremel columns docs/                         # paths, levels, encodings (Fig. 3)
    minisys dremel columns docs/ --entries 5             # the first (value, r, d) entries

Top-level imports are stdlib only; the engine is imported inside handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from minisys.errors import BadInput


def _load(args: argparse.Namespace) -> int:
    from minisys.dremel.schema import Schema
    from minisys.dremel.tablet import Table

    src = Path(args.input)
    if not src.exists():
        raise BadInput(f"{src}: no such file")
    schema = Schema.parse(Path(args.schema).read_text()) if args.schema else None
    suffix = src.suffix.lower()
    if suffix == ".parquet":
        table = Table.from_parquet(src, schema=schema, tablet_records=args.tablet_records, out=args.out)
    elif suffix in (".json", ".jsonl", ".ndjson"):
        table = Table.from_json(src, schema=schema, tablet_records=args.tablet_records).save(args.out)
    else:
        raise BadInput(f"{src}: unsupported format {suffix or '(none)'}; use .jsonl, .json or .parquet")
    print(f"loaded {table.num_records:,} records into {len(table.tablets)} tablet(s) at {args.out}")
    print(table.schema.to_text())
    return 0


def _query(args: argparse.Namespace) -> int:
    from minisys.dremel.tablet import Table

    if args.leaves:
        result = _query_on_tree(args)
    else:
        result = Table.open(args.table).query(args.sql)
    if args.format == "json":
        for rec in result.records():
            print(json.dumps(rec, default=str))
    else:
        _print_records(result.records())
    if args.schema and result.schema is not None:
        print(result.schema.to_text())
    return 0


def _query_on_tree(args: argparse.Namespace) -> Any:
    """Run the query through a serving tree: leaves in their own processes (§6)."""
    import asyncio

    from minisys.dremel.serving import LocalCluster
    from minisys.dremel.tablet import Table

    Table.open(args.table)  # a clear error before any process starts
    fanouts = tuple(int(x) for x in args.fanout.split(",")) if args.fanout else ()

    async def go() -> Any:
        async with LocalCluster(leaves=args.leaves, fanouts=fanouts) as cluster:
            return await cluster.query(args.table, args.sql, min_fraction=args.min_fraction)

    outcome = asyncio.run(go())
    note = " (partial result)" if outcome.result.partial else ""
    print(f"# {outcome.result.tablets_scanned}/{outcome.result.tablets_total} tablets in {outcome.seconds:.3f} s, "
          f"{outcome.redispatched} re-dispatched{note}", file=sys.stderr)
    return outcome.result


def _print_records(records: list[dict[str, Any]]) -> None:
    """The paper's Fig. 6 style: one field per line, groups indented."""
    def emit(value: dict[str, Any], indent: int) -> None:
        for key, v in value.items():
            items = v if isinstance(v, list) else [v]
            for item in items:
                if isinstance(item, dict):
                    print("  " * indent + key)
                    emit(item, indent + 1)
                else:
                    print("  " * indent + f"{key}: {item!r}")

    for i, rec in enumerate(records):
        if i:
            print()
        emit(rec, 0)


def _columns(args: argparse.Namespace) -> int:
    from minisys.dremel.tablet import Table

    table = Table.open(args.table)
    print(f"{table.schema.name}: {table.num_records:,} records, {len(table.tablets)} tablet(s)")
    print(f"{'column':32} {'type':7} {'max r':>5} {'max d':>5} {'entries':>10} {'values':>10}  levels r/d          min .. max")
    for leaf in table.schema.leaves:
        metas = [t.stats(leaf.path) for t in table.tablets]
        entries = sum(m.get("entries", 0) for m in metas)
        values = sum(m.get("values", 0) for m in metas)
        first = metas[0] if metas else {}
        mins = [m["min"] for m in metas if m.get("min") is not None]
        maxs = [m["max"] for m in metas if m.get("max") is not None]
        rng = f"{min(mins)!r} .. {max(maxs)!r}" if mins else "-"
        enc = f"{first.get('rep', '-')}/{first.get('def', '-')}"
        print(f"{leaf.path:32} {leaf.type:7} {leaf.max_r:>5} {leaf.max_d:>5} {entries:>10,} {values:>10,}  {enc:19} {rng}")
    if args.entries:
        tablet = table.tablets[0]
        for leaf in table.schema.leaves:
            shown = []
            for j, (v, r, d) in enumerate(tablet.column(leaf.path)):
                if j >= args.entries:
                    break
                shown.append(f"{'NULL' if v is None else v},{r},{d}")
            print(f"\n{leaf.path}\n  " + "\n  ".join(shown))
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("dremel", help="Dremel: nested columnar storage and its query language")
    parser.set_defaults(_group_parser=parser)
    cmds = parser.add_subparsers(dest="dremel_command", metavar="COMMAND")
    load = cmds.add_parser("load", help="stripe JSON lines / JSON / Parquet into a table directory")
    load.add_argument("input")
    load.add_argument("--out", required=True, help="directory to create")
    load.add_argument("--schema", help="schema file in the paper's syntax (default: inferred)")
    load.add_argument("--tablet-records", type=int, default=250_000)
    load.set_defaults(func=_load)
    query = cmds.add_parser("query", help="run a query in the paper's SQL dialect")
    query.add_argument("sql")
    query.add_argument("--table", required=True)
    query.add_argument("--format", choices=("text", "json"), default="text")
    query.add_argument("--schema", action="store_true", help="also print the output schema")
    query.add_argument("--leaves", type=int, default=0,
                       help="run on a serving tree with this many leaf processes (default: in-process)")
    query.add_argument("--fanout", default="", help="intermediate levels, e.g. 2 or 2,2 (with --leaves)")
    query.add_argument("--min-fraction", type=float, default=1.0,
                       help="return after this fraction of tablets (with --leaves; the result says partial)")
    query.set_defaults(func=_query)
    cols = cmds.add_parser("columns", help="show columns with their levels, encodings and statistics")
    cols.add_argument("table")
    cols.add_argument("--entries", type=int, default=0, help="also print the first N (value, r, d) entries")
    cols.set_defaults(func=_columns)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
