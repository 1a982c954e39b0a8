"""Input readers (paper §4.4) and splitting into M map tasks (§3.1).

"Text" mode gives key = byte offset, value = line, and splits on line
boundaries: a split ``[start, end)`` owns every line that *starts* inside it,
so a line crossing a split boundary is read whole by exactly one map task.
"Text blocks" splits the same way, but one record is a block of about
``BLOCK`` bytes of whole lines (key = the byte offset of its first line): the
reader for map functions that process many lines with one library call
(vectorised tokenising and counting), where a Python call per line would be
the bottleneck -- §4.4's point that users add readers for their own needs.
JSON lines split the same way. CSV files (quoted fields may hold newlines)
are one split each; Parquet files split by row group. The "pairs" format is
the ``json(key)<TAB>json(value)`` output of a previous step (multi-step jobs).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from itertools import accumulate, chain, count
from operator import add
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.messages import Split

FORMATS = ("text", "textblocks", "jsonl", "csv", "parquet", "pairs")
#: Bytes read at a time by the line readers (bounded memory per map task).
BLOCK = 4 * 1024 * 1024
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def expand_inputs(inputs: list[str | os.PathLike[str]]) -> list[Path]:
    """Files named, plus the files inside named directories (skipping ``_*`` and ``.*``)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", "."))))
        elif path.is_file():
            files.append(path)
        else:
            raise BadInput(f"input {path}: no such file or directory")
    if not files:
        raise BadInput("no input files (directories given were empty)")
    return [f.resolve() for f in files]


def input_format(path: Path, override: str | None) -> str:
    if override is not None:
        if override not in FORMATS:
            raise BadInput(f"unknown input format {override!r}; use one of {', '.join(FORMATS)}")
        return override
    return _EXTENSIONS.get(path.suffix.lower(), "text")


def make_splits(files: list[Path], split_bytes: int, fmt: str | None = None) -> list[Split]:
    """Cut the inputs into M splits of at most ``split_bytes`` (the paper's 16-64 MB), equal per file."""
    splits: list[Split] = []
    for path in files:
        kind = input_format(path, fmt)
        if kind == "parquet":
            splits.extend(Split(str(path), g, g + 1, kind) for g in range(_row_groups(path)))
            continue
        size = path.stat().st_size
        if kind == "csv" or size == 0:
            splits.append(Split(str(path), 0, size, kind))
            continue
        # Equal pieces of at most ``split_bytes``: 200 MiB in 64 MiB splits is
        # four 50 MiB tasks, not three full ones and an 8 MiB straggler-in-reverse
        # that leaves a worker idle at the end of the phase.
        pieces = -(-size // split_bytes)
        step = -(-size // pieces)
        for start in range(0, size, step):
            splits.append(Split(str(path), start, min(size, start + step), kind))
    return splits


def _row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_row_groups
    except Exception as exc:
        raise BadInput(f"input {path}: not a readable Parquet file: {exc}") from None


def _line_blocks(path: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, block) pairs of about ``BLOCK`` bytes of whole lines: exactly the
    lines that *start* in [start, end) (§3.1: a split owns the lines starting in it;
    the line holding byte ``start - 1`` belongs to the previous split)."""
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()
        pos = f.tell()
        while pos < end:
            block = f.read(BLOCK)
            if not block:
                return
            if block[-1:] != b"\n":
                block += f.readline()
            if pos + len(block) > end:  # keep only the lines that start before ``end``
                cut = block.find(b"\n", end - pos - 1)
                if cut >= 0:
                    block = block[: cut + 1]
            yield pos, block
            pos += len(block)


def read_text_blocks(path: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(byte offset of the first line, decoded block of whole lines) for the
    lines starting in [start, end), about ``BLOCK`` bytes at a time."""
    for pos, block in _line_blocks(path, start, end):
        try:
            yield pos, block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"input {path}: byte {pos + exc.start} is not UTF-8 ({exc.reason})") from None


def read_lines(path: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line without newline) for each line starting in [start, end)."""
    for pos, block in _line_blocks(path, start, end):
        yield from read_lines_from(block, pos)


def read_text_lines(path: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(byte offset, decoded line) for each line starting in [start, end).

    The per-line work is done by C iterators: each block is decoded at once
    and split into lines in C, and the offsets are a running sum of line
    lengths (``accumulate``) -- no Python code runs per line for an ASCII
    block without ``\\r`` (the common case, checked in C), where characters
    are bytes so offsets need no re-encoding."""
    return chain.from_iterable(_text_blocks(path, start, end))


def _text_blocks(path: str, start: int, end: int) -> Iterator[Iterator[tuple[int, str]]]:
    """One iterator of (offset, line) per block of about ``BLOCK`` bytes."""
    for pos, block in _line_blocks(path, start, end):
        if not block.isascii():
            yield ((offset, _decode(line, path, offset)) for offset, line in read_lines_from(block, pos))
            continue
        text = block.decode("ascii")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        offsets = _offsets(pos, map(len, lines))  # lengths with any \r, as on disk
        if "\r" in text:
            lines = [line[:-1] if line[-1:] == "\r" else line for line in lines]
        yield zip(offsets, lines, strict=False)  # offsets has one extra (the end)


def _offsets(pos: int, lengths: Iterable[int]) -> Iterator[int]:
    """Start offsets of consecutive lines of the given lengths (each plus its newline), in C."""
    return map(add, accumulate(lengths, initial=pos), count())


def read_lines_from(block: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for line in lines:
        yield pos, line
        pos += len(line) + 1


def _decode(line: bytes, path: str, pos: int) -> str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"input {path}: line at byte {pos} is not UTF-8 ({exc.reason})") from None
    return text[:-1] if text.endswith("\r") else text


def read_split(split: Split) -> Iterator[tuple[Any, Any]]:
    """The (key, value) records of one split, in order."""
    if split.format == "text":  # the common case: C iterators all the way (no generator per record)
        return read_text_lines(split.path, split.start, split.end)
    if split.format == "textblocks":
        return read_text_blocks(split.path, split.start, split.end)
    return _read_other(split)


def _read_other(split: Split) -> Iterator[tuple[Any, Any]]:
    path, kind = split.path, split.format
    if kind == "jsonl":
        for pos, line in read_lines(path, split.start, split.end):
            text = _decode(line, path, pos)
            if not text.strip():
                continue
            try:
                yield pos, json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInput(f"input {path}: line at byte {pos} is not valid JSON ({exc.msg})") from None
    elif kind == "pairs":
        for pos, line in read_lines(path, split.start, split.end):
            key, tab, value = _decode(line, path, pos).partition("\t")
            try:
                if not tab:
                    raise json.JSONDecodeError("no tab", key, 0)
                yield json.loads(key), json.loads(value)
            except json.JSONDecodeError as exc:
                raise BadInput(f"input {path}: line at byte {pos} is not json<TAB>json ({exc.msg})") from None
    elif kind == "csv":
        yield from _read_csv(path)
    elif kind == "parquet":
        yield from _read_parquet(path, split.start)
    else:
        raise BadInput(f"unknown input format {kind!r}")


def _read_csv(path: str) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return
            for row in reader:
                if len(row) != len(header):
                    raise BadInput(
                        f"input {path}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                    )
                yield reader.line_num, dict(zip(header, row, strict=True))
        except csv.Error as exc:
            raise BadInput(f"input {path}: line {reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise BadInput(f"input {path}: not UTF-8 ({exc.reason})") from None


def _read_parquet(path: str, group: int) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        first = sum(pf.metadata.row_group(g).num_rows for g in range(group))
        table = pf.read_row_group(group)
    except Exception as exc:
        raise BadInput(f"input {path}: cannot read row group {group}: {exc}") from None
    for i, row in enumerate(table.to_pylist()):
        yield first + i, _jsonable(row)


def _jsonable(value: Any) -> Any:
    """Parquet values JSON cannot carry (dates, decimals, bytes) become strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def describe_record(split: Split, key: Any) -> str:
    """Where a record is, for error messages."""
    if split.format in ("text", "textblocks", "jsonl", "pairs"):
        return f"{split.path} at byte {key}" if split.format != "pairs" else f"{split.path}"
    if split.format == "csv":
        return f"{split.path} line {key}"
    return f"{split.path} row {key}"

