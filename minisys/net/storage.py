"""A node's durable storage: the only state that survives a crash.

Why it exists: a crash-recovery protocol is only tested if a crash really
loses memory. The simulator builds a *new* node object on restart, so every
attribute is gone; what the node wrote here is handed to the new incarnation,
as a disk would be (Dynamo §4.2 keeps its data in a durable engine; a log keeps
its segments).

Writes are durable the moment ``storage[key] = value`` returns. Values must be
plain data (None, bool, int, float, str, bytes, lists, str-keyed dicts), the
same as a message's ``Any`` field, because with ``path`` set they go to disk as
msgpack. Treat stored values as immutable and assign again to persist a
change: mutating a stored list in place is not a write.

This is deliberately tiny: with a path, every write rewrites the whole file
(atomically, via rename). A system with real data volumes brings its own
engine and keeps only its metadata here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import msgpack

from minisys.errors import BadInput
from minisys.net import codec
from minisys.net.errors import MessageEncodeError


class Storage(MutableMapping[str, Any]):
    """A str-keyed dict of plain data, kept in memory or in one msgpack file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[str, Any] = {}
        if self.path is not None and self.path.exists():
            try:
                data = msgpack.unpackb(self.path.read_bytes(), raw=False)
            except Exception as exc:
                raise BadInput(f"{self.path}: not a minisys storage file ({exc})") from None
            if not isinstance(data, dict):
                raise BadInput(f"{self.path}: not a minisys storage file (not a map)")
            self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise TypeError(f"storage keys are str, got {type(key).__name__}")
        try:
            codec.converters(Any, True)[0](value)  # refuse what a disk could not hold
        except codec.ShapeError as exc:
            where = f"storage[{key!r}]{'.' + exc.path if exc.path else ''}"
            raise MessageEncodeError(f"cannot store {where}: {exc.reason}") from None
        self._data[key] = value
        self._flush()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._flush()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"Storage({len(self._data)} keys{where})"

    def _flush(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(msgpack.packb(self._data, use_bin_type=True))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
