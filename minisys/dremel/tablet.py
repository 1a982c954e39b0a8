"""Column storage on disk: a table is many tablets (Dremel §4.1 encoding, §6 tablets).

Per column a tablet keeps its non-NULL values and its repetition and
definition levels. Levels are stored compactly, as §4.1 describes: ``d`` is
omitted for a column whose max definition level is 0 and ``r`` for one whose
max repetition level is 0 (DocId has no levels at all); otherwise each level
stream is bit-packed at the minimal width (2 bits for max d = 3) or
run-length encoded, whichever is smaller. Each column records min/max
statistics so a query can skip tablets. Files are read through memory maps,
so a query touches only the columns it uses.

Layout::

    DIR/table.json                 schema (paper syntax), tablet list
    DIR/tablet-00000/tablet.json   records, per column: entries, encodings, min/max
    DIR/tablet-00000/<path>.values | .offsets .data | .rep | .def
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minisys.dremel.schema import Schema, infer_schema
from minisys.dremel.striping import LEVEL_DTYPE, Column, stripe, stripe_arrow
from minisys.errors import BadInput

FORMAT = 1
DEFAULT_TABLET_RECORDS = 250_000


# -- level encodings --------------------------------------------------------
def encode_levels(levels: np.ndarray, max_level: int) -> tuple[str, bytes]:
    """Bit-packed at ``max_level.bit_length()`` bits, or run-length, whichever is smaller."""
    if max_level == 0:
        return "none", b""
    n = len(levels)
    width = int(max_level).bit_length()
    change = np.flatnonzero(np.diff(levels)) + 1 if n else np.empty(0, np.int64)
    starts = np.concatenate(([0], change)) if n else np.empty(0, np.int64)
    runs = len(starts)
    if runs * 5 < (n * width + 7) // 8:
        lengths = np.diff(np.concatenate((starts, [n]))).astype(np.uint32)
        return "rle", levels[starts].astype(np.uint8).tobytes() + lengths.tobytes()
    planes = [np.packbits(((levels >> b) & 1).astype(np.uint8)) for b in range(width)]
    return f"bitpack{width}", b"".join(p.tobytes() for p in planes)


def decode_levels(kind: str, data: Any, n: int) -> np.ndarray:
    if kind == "none":
        return np.zeros(n, dtype=LEVEL_DTYPE)
    raw = np.frombuffer(data, dtype=np.uint8)
    if kind == "rle":
        runs = len(raw) // 5
        values = raw[:runs]
        lengths = raw[runs:].view(np.uint32)
        return np.repeat(values, lengths).astype(LEVEL_DTYPE)
    width = int(kind.removeprefix("bitpack"))
    plane = (n + 7) // 8
    out = np.zeros(n, dtype=LEVEL_DTYPE)
    for b in range(width):
        out |= (np.unpackbits(raw[b * plane:(b + 1) * plane], count=n) << b).astype(LEVEL_DTYPE)
    return out


def _file(path: str) -> str:
    return path.replace("/", "_")


def _mmap(path: Path) -> Any:
    if path.stat().st_size == 0:
        return b""
    return pa.memory_map(str(path), "r").read_buffer()


# -- one tablet --------------------------------------------------------------
class Tablet:
    """A horizontal slice of a table: whole records, stored column by column."""

    def __init__(self, schema: Schema, num_records: int, columns: dict[str, Column] | None = None,
                 directory: Path | None = None, meta: dict[str, Any] | None = None) -> None:
        self.schema = schema
        self.num_records = num_records
        self._columns = dict(columns or {})
        self.directory = directory
        self._meta = meta
        self.columns_read: set[str] = set()

    @property
    def meta(self) -> dict[str, Any]:
        """Per-column entries, encodings and min/max; read from disk on first use."""
        if self._meta is None:
            if self.directory is not None:
                self._meta = json.loads((self.directory / "tablet.json").read_text())
            else:
                self._meta = {"columns": {p: _stats(c) for p, c in self._columns.items()}}
        return self._meta

    def column(self, path: str) -> Column:
        """The column at ``path``; on disk, memory-maps only this column's files."""
        self.columns_read.add(path)
        col = self._columns.get(path)
        if col is None:
            if self.directory is None:
                raise BadInput(f"tablet has no column {path!r}")
            col = self._load(path)
        return col

    def stats(self, path: str) -> dict[str, Any]:
        return self.meta["columns"].get(path, {})

    def _load(self, path: str) -> Column:
        field = self.schema.column(path)
        info = self.meta["columns"][path]
        d = self.directory
        assert d is not None
        n, nvalues = info["entries"], info["values"]
        base = d / _file(path)
        rep = decode_levels(info["rep"], _mmap(Path(f"{base}.rep")) if info["rep"] != "none" else b"", n)
        defs = decode_levels(info["def"], _mmap(Path(f"{base}.def")) if info["def"] != "none" else b"", n)
        typ = _arrow(field.type)
        if field.type in ("string", "bytes"):
            offsets = _mmap(Path(f"{base}.offsets"))
            data = _mmap(Path(f"{base}.data"))
            values = pa.Array.from_buffers(typ, nvalues, [None, pa.py_buffer(offsets), pa.py_buffer(data) if data else pa.py_buffer(b"")])
        elif field.type == "bool":
            raw = _mmap(Path(f"{base}.values"))
            values = pa.array(np.frombuffer(raw, dtype=np.uint8).astype(bool) if raw else np.zeros(0, bool))
        else:
            raw = _mmap(Path(f"{base}.values"))
            values = pa.Array.from_buffers(typ, nvalues, [None, pa.py_buffer(raw) if raw else pa.py_buffer(b"")])
        return Column(field, values, rep, defs)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"format": FORMAT, "records": self.num_records, "columns": {}}
        for leaf in self.schema.leaves:
            col = self.column(leaf.path)
            base = directory / _file(leaf.path)
            info = _stats(col)
            rk, rbytes = encode_levels(col.rep, leaf.max_r)
            dk, dbytes = encode_levels(col.defs, leaf.max_d)
            info.update(rep=rk, **{"def": dk})
            if rk != "none":
                Path(f"{base}.rep").write_bytes(rbytes)
            if dk != "none":
                Path(f"{base}.def").write_bytes(dbytes)
            values = col.values
            if leaf.type in ("string", "bytes"):
                values = values.cast(_arrow(leaf.type))
                bufs = values.buffers()
                offsets = np.frombuffer(bufs[1], dtype=np.int32)[values.offset:values.offset + len(values) + 1] if bufs[1] else np.zeros(1, np.int32)
                start = int(offsets[0]) if len(offsets) else 0
                Path(f"{base}.offsets").write_bytes((offsets - start).astype(np.int32).tobytes())
                data = bufs[2].to_pybytes()[start:int(offsets[-1])] if bufs[2] is not None and len(offsets) else b""
                Path(f"{base}.data").write_bytes(data)
            elif leaf.type == "bool":
                Path(f"{base}.values").write_bytes(np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes())
            else:
                Path(f"{base}.values").write_bytes(np.asarray(values.to_numpy(zero_copy_only=False)).tobytes())
            info["bytes"] = sum(os.path.getsize(p) for p in directory.glob(_file(leaf.path) + ".*"))
            meta["columns"][leaf.path] = info
        (directory / "tablet.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def open(cls, schema: Schema, directory: Path, num_records: int | None = None) -> Tablet:
        if num_records is None:
            meta = json.loads((directory / "tablet.json").read_text())
            return cls(schema, meta["records"], directory=directory, meta=meta)
        return cls(schema, num_records, directory=directory)


def _arrow(typ: str | None) -> pa.DataType:
    from minisys.dremel.schema import arrow_type

    return arrow_type(typ or "string")


def _stats(col: Column) -> dict[str, Any]:
    info: dict[str, Any] = {"entries": len(col), "values": len(col.values), "min": None, "max": None}
    if len(col.values) and col.field.type not in ("bytes", "bool"):
        mm = pc.min_max(col.values).as_py()
        info["min"], info["max"] = mm["min"], mm["max"]
    return info


# -- a table -----------------------------------------------------------------
def _chunks(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Table:
    """Nested records stored as columns in tablets; ``query`` runs the §5 language."""

    def __init__(self, schema: Schema, tablets: list[Tablet], directory: Path | None = None) -> None:
        self.schema = schema
        self.tablets = tablets
        self.directory = directory

    @property
    def num_records(self) -> int:
        return sum(t.num_records for t in self.tablets)

    def __repr__(self) -> str:
        return f"Table({self.schema.name}, {self.num_records} records, {len(self.tablets)} tablets)"

    # -- import -----------------------------------------------------------
    @classmethod
    def from_records(cls, schema: Schema | str | None, records: Iterable[dict],
                     tablet_records: int = DEFAULT_TABLET_RECORDS) -> Table:
        """Stripe Python dicts with the paper's algorithm (errors name record and path)."""
        if schema is None:
            records = list(records)
            schema = infer_schema(records)
        elif isinstance(schema, str):
            schema = Schema.parse(schema)
        tablets = []
        start = 0
        for chunk in _chunks(records, tablet_records):
            tablets.append(Tablet(schema, len(chunk), stripe(schema, chunk, start_index=start)))
            start += len(chunk)
        return cls(schema, tablets)

    @classmethod
    def from_json(cls, path: str | Path, schema: Schema | str | None = None,
                  tablet_records: int = DEFAULT_TABLET_RECORDS) -> Table:
        """JSON lines (one object per line) or one JSON array of objects."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise BadInput(f"{path}: {exc.strerror}") from None
        stripped = text.lstrip()
        records: list[Any]
        if stripped.startswith("["):
            try:
                records = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        else:
            records = []
            for lineno, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise BadInput(f"{path}: invalid JSON at line {lineno}, column {exc.colno}: {exc.msg}") from None
        if schema is None:
            schema = infer_schema(records, name=path.stem.capitalize() or "Record")
        return cls.from_records(schema, records, tablet_records)

    @classmethod
    def from_arrow(cls, data: pa.Table, schema: Schema | str | None = None,
                   tablet_records: int = DEFAULT_TABLET_RECORDS) -> Table:
        """Stripe an Arrow table with numpy over its offsets and bitmaps."""
        if schema is None:
            schema = Schema.from_arrow(data.schema)
        elif isinstance(schema, str):
            schema = Schema.parse(schema)
        tablets = []
        for offset in range(0, max(data.num_rows, 1), tablet_records):
            part = data.slice(offset, tablet_records)
            if part.num_rows == 0:
                continue
            tablets.append(Tablet(schema, part.num_rows, stripe_arrow(schema, part)))
        return cls(schema, tablets)

    @classmethod
    def from_parquet(cls, path: str | Path, schema: Schema | str | None = None,
                     tablet_records: int = DEFAULT_TABLET_RECORDS, out: str | Path | None = None) -> Table:
        """Read Parquet batch by batch; with ``out``, write each tablet as it is made."""
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(str(path))
        except (OSError, pa.ArrowInvalid) as exc:
            raise BadInput(f"{path}: cannot read Parquet: {exc}") from None
        if schema is None:
            schema = Schema.from_arrow(pf.schema_arrow, name=Path(path).stem.capitalize() or "Record")
        elif isinstance(schema, str):
            schema = Schema.parse(schema)
        writer = TableWriter(Path(out), schema) if out is not None else None
        tablets = []
        for batch in pf.iter_batches(batch_size=tablet_records):
            tablet = Tablet(schema, batch.num_rows, stripe_arrow(schema, batch))
            if writer is not None:
                writer.add(tablet)
            else:
                tablets.append(tablet)
        if writer is not None:
            return writer.close()
        return cls(schema, tablets)

    # -- storage ---------------------------------------------------------
    def save(self, directory: str | Path) -> Table:
        writer = TableWriter(Path(directory), self.schema)
        for tablet in self.tablets:
            writer.add(tablet)
        return writer.close()

    @classmethod
    def open(cls, directory: str | Path) -> Table:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "table.json").read_text())
        except FileNotFoundError:
            raise BadInput(f"{directory} is not a Dremel table (no table.json); create one with `minisys dremel load`") from None
        schema = Schema.parse(meta["schema"])
        tablets = [Tablet.open(schema, directory / t["name"], t["records"]) if isinstance(t, dict)
                   else Tablet.open(schema, directory / t) for t in meta["tablets"]]
        return cls(schema, tablets, directory)

    # -- export ------------------------------------------------------------
    def records(self, fields: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Assemble records (all fields, or only ``fields``) with the FSM of §4.3."""
        from minisys.dremel.assembly import assemble

        out: list[dict[str, Any]] = []
        for tablet in self.tablets:
            paths = [f.path for f in self.schema.leaves] if fields is None else list(fields)
            leaves = {leaf.path for p in paths for leaf in self.schema.leaves_under(p)}
            out.extend(assemble(self.schema, {p: tablet.column(p) for p in leaves}, paths))
        return out

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.records(), schema=self.schema.to_arrow())

    def to_parquet(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(self.to_arrow(), str(path))

    def query(self, sql: str) -> Any:
        """Run a query in the §5 dialect; see :mod:`minisys.dremel.query`."""
        from minisys.dremel.query import execute

        return execute(self, sql)


class TableWriter:
    """Writes tablets one at a time, so imports of big files run in bounded memory."""

    def __init__(self, directory: Path, schema: Schema) -> None:
        self.directory = directory
        self.schema = schema
        self.names: list[dict[str, Any]] = []
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "table.json").exists():
            raise BadInput(f"{directory} already holds a table; choose an empty directory")

    def add(self, tablet: Tablet) -> None:
        name = f"tablet-{len(self.names):05d}"
        tablet.save(self.directory / name)
        self.names.append({"name": name, "records": tablet.num_records})

    def close(self) -> Table:
        meta = {"format": FORMAT, "schema": self.schema.to_text(), "tablets": self.names}
        (self.directory / "table.json").write_text(json.dumps(meta, indent=1))
        return Table.open(self.directory)
