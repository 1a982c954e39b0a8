"""Nested schemas: required / optional / repeated fields and groups (Dremel §3).

A record type is ``τ = dom | <A1:τ[*|?], ..., An:τ[*|?]>``: ``*`` is *repeated*
(an ordered list), ``?`` is *optional*, no mark is *required*. Only atomic
(leaf) fields become columns; each column has a maximum repetition level (the
repeated fields on its path) and a maximum definition level (the optional and
repeated fields on its path) — §4.1, and the table in the brief.

Schemas come from the paper's own syntax (:meth:`Schema.parse`), from JSON
records (:func:`infer_schema`) or from an Arrow schema (:meth:`Schema.from_arrow`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minisys.errors import BadInput

LABELS = ("required", "optional", "repeated")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Atomic types of the paper's examples plus the usual protobuf scalars.
ATOMIC_TYPES = ("int64", "int32", "uint64", "double", "float", "bool", "string", "bytes")


@dataclass(eq=False)
class Field:
    """One schema node. ``type`` is None for a group (a nested record)."""

    name: str
    label: str
    type: str | None = None
    children: list[Field] = field(default_factory=list)
    # Filled in by Schema: dotted path, levels and tree depth.
    path: str = ""
    parent: Field | None = None
    max_r: int = 0
    max_d: int = 0
    depth: int = 0

    @property
    def is_leaf(self) -> bool:
        return self.type is not None

    @property
    def repeated(self) -> bool:
        return self.label == "repeated"

    @property
    def optional(self) -> bool:
        return self.label == "optional"

    def ancestors(self) -> list[Field]:
        """Path from the top-level field down to this one (the root message excluded)."""
        out: list[Field] = []
        node: Field | None = self
        while node is not None and node.parent is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def leaves(self) -> Iterator[Field]:
        if self.is_leaf:
            yield self
        for child in self.children:
            yield from child.leaves()

    def repeated_ancestor(self, level: int) -> Field | None:
        """The field on this path (itself included) that repeats at ``level``."""
        for node in self.ancestors():
            if node.repeated and node.max_r == level:
                return node
        return None

    def to_text(self, indent: int = 1) -> str:
        pad = "  " * indent
        if self.is_leaf:
            return f"{pad}{self.label} {self.type} {self.name};"
        inner = "\n".join(c.to_text(indent + 1) for c in self.children)
        return f"{pad}{self.label} group {self.name} {{\n{inner}\n{pad}}}"


class Schema:
    """A message type: the root group plus per-column levels, in schema order."""

    def __init__(self, name: str, fields: list[Field]) -> None:
        self.name = name
        self.root = Field(name, "required", None, list(fields))
        self._index(self.root, None, 0, 0, 0)
        self.leaves: list[Field] = list(self.root.leaves())
        self.columns: dict[str, Field] = {f.path: f for f in self.leaves}
        self.nodes: dict[str, Field] = {}
        self._collect(self.root)

    def _index(self, node: Field, parent: Field | None, r: int, d: int, depth: int) -> None:
        node.parent = parent
        if parent is not None:
            node.path = f"{parent.path}.{node.name}" if parent.parent is not None else node.name
            r += node.repeated
            d += node.label != "required"
        node.max_r, node.max_d, node.depth = r, d, depth
        seen = set()
        for child in node.children:
            if not _IDENT.fullmatch(child.name):
                raise BadInput(f"schema {self.name}: field name {child.name!r} under "
                               f"{node.path or 'the record'} is not an identifier (letters, digits, _)")
            if child.name in seen:
                raise BadInput(f"schema {self.name}: field {node.path + '.' if node.path else ''}{child.name} declared twice")
            seen.add(child.name)
            self._index(child, node, r, d, depth + 1)

    def _collect(self, node: Field) -> None:
        for child in node.children:
            self.nodes[child.path] = child
            self._collect(child)

    # -- lookup ---------------------------------------------------------
    def field(self, path: str) -> Field:
        try:
            return self.nodes[path]
        except KeyError:
            raise BadInput(f"unknown field {path!r} in schema {self.name} (columns: {', '.join(self.columns)})") from None

    def column(self, path: str) -> Field:
        node = self.field(path)
        if not node.is_leaf:
            raise BadInput(f"{path!r} is a group, not a column")
        return node

    def leaves_under(self, path: str) -> list[Field]:
        return list(self.field(path).leaves())

    def __repr__(self) -> str:
        return f"Schema({self.name}, {len(self.leaves)} columns)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.to_text() == other.to_text()

    def to_text(self) -> str:
        """The schema in the paper's syntax (round-trips through :meth:`parse`)."""
        body = "\n".join(c.to_text(1) for c in self.root.children)
        return f"message {self.name} {{\n{body}\n}}"

    # -- constructors ---------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Schema:
        """Parse the paper's syntax; errors say line and column (Fig. 2)."""
        return _Parser(text).parse()

    @classmethod
    def from_arrow(cls, arrow_schema: Any, name: str = "Record") -> Schema:
        """struct → group, list → repeated, nullable → optional, else required."""
        return Schema(name, [_from_arrow_field(f) for f in arrow_schema])

    def to_arrow(self) -> Any:
        import pyarrow as pa

        return pa.schema([_to_arrow_field(f) for f in self.root.children])


# -- the paper's syntax --------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(//[^\n]*)|([A-Za-z_][A-Za-z0-9_]*)|([{};])|(\S))")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        pos = 0
        while True:
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos and not text[pos:].strip():
                break
            pos = m.end()
            if m.group(1):
                continue
            tok = m.group(2) or m.group(3) or m.group(4)
            if tok is None:
                break
            self.tokens.append((tok, m.start(m.lastindex)))
        self.i = 0

    def where(self, offset: int) -> str:
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return f"line {line}, column {col}"

    def fail(self, expected: str) -> BadInput:
        if self.i < len(self.tokens):
            tok, off = self.tokens[self.i]
            return BadInput(f"schema syntax error at {self.where(off)}: expected {expected}, got {tok!r}")
        return BadInput(f"schema syntax error at {self.where(len(self.text))}: expected {expected}, got end of input")

    def next(self, expected: str) -> str:
        if self.i >= len(self.tokens):
            raise self.fail(expected)
        tok = self.tokens[self.i][0]
        self.i += 1
        return tok

    def expect(self, literal: str) -> None:
        if self.i >= len(self.tokens) or self.tokens[self.i][0] != literal:
            raise self.fail(repr(literal))
        self.i += 1

    def ident(self, what: str) -> str:
        if self.i >= len(self.tokens) or not re.fullmatch(r"[A-Za-z_]\w*", self.tokens[self.i][0]):
            raise self.fail(what)
        return self.next(what)

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def parse(self) -> Schema:
        self.expect("message")
        name = self.ident("a message name")
        fields = self.body()
        if self.peek() == ";":
            self.i += 1
        if self.i < len(self.tokens):
            raise self.fail("end of schema")
        return Schema(name, fields)

    def body(self) -> list[Field]:
        self.expect("{")
        fields = []
        while self.peek() != "}":
            fields.append(self.field())
        self.expect("}")
        return fields

    def field(self) -> Field:
        if self.peek() not in LABELS:
            raise self.fail("required, optional or repeated")
        label = self.next("label")
        if self.peek() == "group":
            self.i += 1
            name = self.ident("a group name")
            children = self.body()
            if not children:
                self.i -= 1
                raise self.fail("at least one field in group " + name)
            if self.peek() == ";":
                self.i += 1
            return Field(name, label, None, children)
        if self.peek() not in ATOMIC_TYPES:
            raise self.fail("group or a type (" + ", ".join(ATOMIC_TYPES) + ")")
        typ = self.next("type")
        name = self.ident("a field name")
        self.expect(";")
        return Field(name, label, typ)


# -- inference from JSON records -----------------------------------------
def _scalar_type(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    raise BadInput(f"{where}: cannot store a {type(value).__name__} value")


def _merge_type(a: str | None, b: str, where: str) -> str:
    if a is None or a == b:
        return b
    if {a, b} == {"int64", "double"}:
        return "double"
    raise BadInput(f"{where}: mixed types {a} and {b}")


class _Shape:
    """What inference has seen at one path."""

    def __init__(self) -> None:
        self.present = 0  # records (or parent instances) where it was non-null
        self.repeated = False
        self.type: str | None = None
        self.children: dict[str, _Shape] | None = None
        self.elements = 0  # group instances seen (list elements included)

    def add(self, value: Any, where: str) -> None:
        if isinstance(value, list):
            self.repeated = True
            for item in value:
                if isinstance(item, list):
                    raise BadInput(f"{where}: lists of lists have no field name in the Dremel data model")
                if item is None:
                    raise BadInput(f"{where}: a repeated field cannot hold null")
                self._add_one(item, where)
        else:
            self._add_one(value, where)
        self.present += 1

    def _add_one(self, value: Any, where: str) -> None:
        if isinstance(value, dict):
            if self.type is not None:
                raise BadInput(f"{where}: both a group and a {self.type}")
            if self.children is None:
                self.children = {}
            self.elements += 1
            _observe(self.children, value, where)
        else:
            if self.children is not None:
                raise BadInput(f"{where}: both a group and a scalar")
            self.type = _merge_type(self.type, _scalar_type(value, where), where)


def _observe(shapes: dict[str, _Shape], record: dict, where: str) -> None:
    for key, value in record.items():
        if value is None:
            shapes.setdefault(key, _Shape())
            continue
        shapes.setdefault(key, _Shape()).add(value, f"{where}.{key}" if where else key)


def infer_schema(records: Iterable[dict], name: str = "Record") -> Schema:
    """Infer a schema from JSON-like records.

    Lists become repeated fields, dicts groups; a field present and non-null
    in every instance of its parent is required, otherwise optional. A field
    only ever seen empty or null is an optional string.
    """
    shapes: dict[str, _Shape] = {}
    count = 0
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadInput(f"record {i}: expected an object, got {type(record).__name__}")
        _observe(shapes, record, "")
        count += 1
    if count == 0:
        raise BadInput("cannot infer a schema from zero records")
    return Schema(name, _fields(shapes, count))


def _fields(shapes: dict[str, _Shape], parent_count: int) -> list[Field]:
    out = []
    for key, shape in shapes.items():
        if shape.repeated:
            label = "repeated"
        else:
            label = "required" if shape.present == parent_count else "optional"
        if shape.children is not None:
            children = _fields(shape.children, shape.elements)
            if not children:
                children = [Field("_empty", "optional", "bool")]
            out.append(Field(key, label, None, children))
        else:
            out.append(Field(key, label, shape.type or "string"))
    return out


# -- Arrow ---------------------------------------------------------------
_ARROW_TYPES = {
    "int64": "int64", "int32": "int32", "int16": "int32", "int8": "int32",
    "uint64": "uint64", "uint32": "int64", "uint16": "int32", "uint8": "int32",
    "double": "double", "float": "float", "bool": "bool",
    "string": "string", "large_string": "string", "binary": "bytes", "large_binary": "bytes",
}


def _from_arrow_field(f: Any, label: str | None = None) -> Field:
    import pyarrow as pa

    t = f.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _from_arrow_field(t.value_field.with_name(f.name), "repeated")
        return inner
    lab = label or ("optional" if f.nullable else "required")
    if pa.types.is_struct(t):
        return Field(f.name, lab, None, [_from_arrow_field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_dictionary(t):
        t = t.value_type
    key = str(t)
    if key not in _ARROW_TYPES:
        raise BadInput(f"field {f.name}: Arrow type {t} has no Dremel equivalent")
    return Field(f.name, lab, _ARROW_TYPES[key])


_TO_ARROW = {"int64": "int64", "int32": "int32", "uint64": "uint64", "double": "float64",
             "float": "float32", "bool": "bool_", "string": "string", "bytes": "binary"}


def arrow_type(typ: str) -> Any:
    import pyarrow as pa

    return getattr(pa, _TO_ARROW[typ])()


def _to_arrow_field(f: Field) -> Any:
    import pyarrow as pa

    if f.is_leaf:
        t = arrow_type(f.type or "string")
    else:
        t = pa.struct([_to_arrow_field(c) for c in f.children])
    if f.repeated:
        return pa.field(f.name, pa.list_(pa.field("element", t, nullable=False)), nullable=True)
    return pa.field(f.name, t, nullable=f.optional)
