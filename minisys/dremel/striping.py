"""Column striping: nested records → columns of (value, r, d) (Dremel §4.2, App. A).

A tree of :class:`FieldWriter` objects mirrors the schema. ``dissect_record``
(the paper's ``DissectRecord``, Fig. 16) walks one record with the current
repetition level ``r`` and definition level ``d``:

* the first value of a repeated field inherits the parent's ``r``; every later
  one gets the field's own repetition depth (the paper's ``seenFields`` test);
* ``d`` counts the optional and repeated fields present on the path, so it is
  fixed by the writer's position in the tree;
* a missing optional or repeated field writes a NULL to every column under it
  at the current ``r`` and the ``d`` of its deepest present ancestor — this is
  what makes the encoding lossless (Fig. 3's ``NULL,1,1`` entries).

:func:`stripe_arrow` is the same mapping computed with numpy over Arrow's
offsets and validity bitmaps, for bulk imports of Parquet and Arrow data; the
property tests check that both give identical columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from minisys.dremel.schema import Field, Schema, arrow_type
from minisys.errors import BadInput

LEVEL_DTYPE = np.uint8  # levels fit in a byte: schemas deeper than 255 are refused


class Column:
    """One striped column: non-NULL values plus a (r, d) pair per entry.

    NULLs are not stored (§4.1: ``d < max_d`` means NULL); iteration yields
    ``(value, r, d)`` with ``value`` None for a NULL, as in Figure 3.
    """

    __slots__ = ("field", "values", "rep", "defs")

    def __init__(self, field: Field, values: pa.Array, rep: np.ndarray, defs: np.ndarray) -> None:
        self.field = field
        self.values = values
        self.rep = rep
        self.defs = defs

    path = property(lambda self: self.field.path)
    max_r = property(lambda self: self.field.max_r)
    max_d = property(lambda self: self.field.max_d)

    def __len__(self) -> int:
        return len(self.rep)

    def __iter__(self) -> Iterator[tuple[Any, int, int]]:
        values = iter(self.values.to_pylist())
        max_d = self.field.max_d
        for r, d in zip(self.rep.tolist(), self.defs.tolist(), strict=True):
            yield (next(values) if d == max_d else None), r, d

    def __repr__(self) -> str:
        return f"Column({self.path}, {len(self)} entries, {len(self.values)} values)"

    def slot_values(self) -> pa.Array:
        """Values aligned with entries (NULL where ``d < max_d``), for the executor."""
        defined = self.defs == self.field.max_d
        if defined.all():
            return self.values
        if len(self.values) == 0:
            return pa.nulls(len(self.rep), self.values.type)
        positions = np.where(defined, np.cumsum(defined) - 1, 0)
        return self.values.take(pa.array(positions, mask=~defined))

    def num_records(self) -> int:
        return int(np.count_nonzero(self.rep == 0))


# -- the paper's algorithm --------------------------------------------------
_PY_TYPES = {
    "int64": (int,), "int32": (int,), "uint64": (int,), "double": (float, int), "float": (float, int),
    "bool": (bool,), "string": (str,), "bytes": (bytes,),
}


class FieldWriter:
    """A node of the writer tree, isomorphic to the schema (App. A)."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.children = [FieldWriter(c) for c in field.children]
        self.leaf_writers: list[FieldWriter] = [w for c in self.children for w in c.leaf_writers]
        if field.is_leaf:
            self.leaf_writers = [self]
            self.values: list[Any] = []
            self.rep: list[int] = []
            self.defs: list[int] = []
            self.names = frozenset()
        else:
            self.names = frozenset(c.name for c in field.children)
        # (writer, name, label, is leaf, repetition depth): read once per child per record
        self.steps = [(w, w.field.name, w.field.label, w.field.is_leaf, w.field.max_r) for w in self.children]
        self.types = _PY_TYPES[field.type] if field.is_leaf and field.type else ()

    def write_value(self, value: Any, r: int, d: int, record_index: int) -> None:
        if value.__class__ is bool and self.field.type != "bool" or not isinstance(value, self.types):
            f = self.field
            raise BadInput(f"record {record_index}: field {f.path}: expected {f.type}, got {type(value).__name__} {value!r}")
        self.values.append(value)
        self.rep.append(r)
        self.defs.append(d)

    def write_null(self, r: int, d: int) -> None:
        """A missing field: NULL in every column below it (lossless encoding, App. A)."""
        for w in self.leaf_writers:
            w.rep.append(r)
            w.defs.append(d)

    def column(self) -> Column:
        f = self.field
        values = pa.array(self.values, type=arrow_type(f.type or "string"))
        return Column(f, values, np.asarray(self.rep, dtype=LEVEL_DTYPE), np.asarray(self.defs, dtype=LEVEL_DTYPE))


def dissect_record(writer: FieldWriter, record: Any, r: int, d: int, record_index: int) -> None:
    """``DissectRecord`` (Fig. 16): write one (sub-)record at levels (r, d)."""
    if not isinstance(record, dict):
        where = writer.field.path or "the record"
        raise BadInput(f"record {record_index}: {where}: expected an object, got {type(record).__name__}")
    extra = record.keys() - writer.names
    if extra:
        prefix = writer.field.path + "." if writer.field.path else ""
        raise BadInput(f"record {record_index}: field {prefix}{sorted(extra)[0]} is not in the schema")
    for child, name, label, leaf, depth in writer.steps:
        value = record.get(name)
        if value is None or (label == "repeated" and value == []):
            if label == "required":
                raise BadInput(f"record {record_index}: required field {child.field.path} is missing")
            child.write_null(r, d)
        elif label == "repeated":
            if value.__class__ is not list:
                raise BadInput(f"record {record_index}: repeated field {child.field.path} must be a list, "
                               f"got {type(value).__name__}")
            child_r = r  # first occurrence: the parent's repetition level
            for item in value:
                if item is None:
                    raise BadInput(f"record {record_index}: repeated field {child.field.path} holds a null")
                if leaf:
                    child.write_value(item, child_r, d + 1, record_index)
                else:
                    dissect_record(child, item, child_r, d + 1, record_index)
                child_r = depth  # seen before: repeats at this field's depth (seenFields)
        elif leaf:
            child.write_value(value, r, d + (label == "optional"), record_index)
        else:
            dissect_record(child, value, r, d + (label == "optional"), record_index)


def _write(writer: FieldWriter, value: Any, r: int, d: int, record_index: int) -> None:
    if writer.field.is_leaf:
        writer.write_value(value, r, d, record_index)
    else:
        dissect_record(writer, value, r, d, record_index)


def stripe(schema: Schema, records: Iterable[dict], start_index: int = 0) -> dict[str, Column]:
    """Stripe records into columns, keyed by dotted path, in schema order."""
    root = FieldWriter(schema.root)
    for i, record in enumerate(records, start_index):
        dissect_record(root, record, 0, 0, i)
    return {w.field.path: w.column() for w in root.leaf_writers}


# -- the same mapping over Arrow arrays (bulk import) -----------------------
def stripe_arrow(schema: Schema, table: pa.Table | pa.RecordBatch) -> dict[str, Column]:
    """Stripe an Arrow table whose layout matches ``schema`` (see Schema.from_arrow)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    table = table.combine_chunks()
    n = table.num_rows
    out: dict[str, Column] = {}
    for leaf in schema.leaves:
        out[leaf.path] = _stripe_leaf(leaf, table, n)
    return out


def _record_of(rep: np.ndarray, slot: int) -> int:
    return int(np.count_nonzero(rep[: slot + 1] == 0)) - 1


def _stripe_leaf(leaf: Field, table: pa.Table, n: int) -> Column:
    idx = np.arange(n, dtype=np.int64)
    rep = np.zeros(n, dtype=LEVEL_DTYPE)
    defs = np.zeros(n, dtype=LEVEL_DTYPE)
    present = np.ones(n, dtype=bool)
    arr: Any = None
    for node in leaf.ancestors():
        if arr is None:
            if node.name not in table.column_names:
                raise BadInput(f"Arrow data has no column {node.name!r} (schema field {node.path})")
            arr = table.column(node.name).chunk(0) if table.column(node.name).num_chunks else pa.array([], type=table.schema.field(node.name).type)
        else:
            if not pa.types.is_struct(arr.type) or arr.type.get_field_index(node.name) < 0:
                raise BadInput(f"Arrow data: {node.parent.path if node.parent else ''} has no field {node.name!r}")
            arr = arr.field(node.name)
        if node.repeated:
            if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
                raise BadInput(f"Arrow data: {node.path} is repeated but has type {arr.type}")
            offsets = np.asarray(arr.offsets)
            lengths = np.diff(offsets)
            safe = np.where(present, idx, 0)
            L = np.where(present, lengths[safe] if len(lengths) else 0, 0)
            has = present & (L > 0)
            counts = np.where(has, L, 1)
            total = int(counts.sum())
            starts = np.cumsum(counts) - counts
            k = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
            new_present = np.repeat(has, counts)
            base = np.repeat(np.where(has, offsets[:-1][safe] if len(lengths) else 0, 0), counts)
            idx = np.where(new_present, base + k, -1)
            rep = np.where(k == 0, np.repeat(rep, counts), node.max_r).astype(LEVEL_DTYPE)
            defs = (np.repeat(defs, counts) + new_present).astype(LEVEL_DTYPE)
            present = new_present
            arr = arr.values
            if arr.null_count:
                valid = np.asarray(arr.is_valid())
                bad = present & ~valid[np.where(present, idx, 0)]
                if bad.any():
                    slot = int(np.argmax(bad))
                    raise BadInput(f"record {_record_of(rep, slot)}: repeated field {node.path} holds a null")
        else:
            if arr.null_count:
                valid = np.asarray(arr.is_valid())
                ok = valid[np.where(present, idx, 0)] if len(valid) else np.zeros(len(idx), bool)
            else:
                ok = np.ones(len(idx), dtype=bool)
            if node.label == "required":
                bad = present & ~ok
                if bad.any():
                    slot = int(np.argmax(bad))
                    raise BadInput(f"record {_record_of(rep, slot)}: required field {node.path} is missing")
            else:
                defs = (defs + (present & ok)).astype(LEVEL_DTYPE)
                present = present & ok
    values = arr.take(pa.array(idx[present])) if present.any() else pa.array([], type=arr.type)
    target = arrow_type(leaf.type or "string")
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.type != target:
        try:
            values = values.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BadInput(f"column {leaf.path}: cannot store {values.type} as {leaf.type}: {exc}") from None
    return Column(leaf, values, rep, defs)
