"""Record assembly from columns with a finite-state machine (Dremel §4.3, App. B–C).

One *field reader* per selected column. After a reader yields a value, the
repetition level of its *next* value says where the next value belongs, and
the FSM says which reader to read from next. Reading from the start state to
END produces one record — containing only the selected fields, with the
enclosing structure kept (the paper's s1 and s2: ``Name{}``, ``Language{}``).

:func:`construct_fsm` is App. C's ``ConstructFSM`` (Fig. 18);
:func:`assemble_record` is App. B's ``AssembleRecord`` (Fig. 17) with its
``MoveToLevel`` / ``ReturnToLevel`` over a stack of open nested records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from minisys.dremel.schema import Field, Schema
from minisys.dremel.striping import Column
from minisys.errors import BadInput

END = "END"


def common_repetition_level(a: Field, b: Field) -> int:
    """The repetition level of the lowest common ancestor of two fields (App. C)."""
    pa_, pb = a.ancestors(), b.ancestors()
    level = 0
    for x, y in zip(pa_, pb, strict=False):
        if x is not y:
            break
        level = x.max_r
    return level


def construct_fsm(fields: Sequence[Field]) -> dict[str, dict[int, str]]:
    """``ConstructFSM`` (Fig. 18): transitions ``state -> {repetition level: next state}``.

    ``fields`` are leaves in schema order. For each field, the *barrier* is the
    next field (or END); levels up to the common repetition level with the
    barrier go to the barrier. A higher level ``l`` means the next value starts
    a new instance of the ancestor that repeats at ``l``, so the machine jumps
    back to the first selected field inside that ancestor — the first field
    (up to and including this one) whose common level with it is at least ``l``.
    Levels with no such field copy the transition of the level above
    (Fig. 18's "copy transition" step).
    """
    fsm: dict[str, dict[int, str]] = {}
    for i, f in enumerate(fields):
        barrier = fields[i + 1] if i + 1 < len(fields) else None
        barrier_level = common_repetition_level(f, barrier) if barrier is not None else 0
        trans: dict[int, str] = {}
        for pre in fields[: i + 1]:
            if pre.max_r > barrier_level:
                back = common_repetition_level(pre, f)
                if back > barrier_level:
                    trans.setdefault(back, pre.path)
        for level in range(f.max_r, barrier_level, -1):
            if level not in trans:
                trans[level] = trans[level + 1]
        for level in range(0, barrier_level + 1):
            trans[level] = barrier.path if barrier is not None else END
        fsm[f.path] = dict(sorted(trans.items()))
    return fsm


class FieldReader:
    """Reads one column's (value, r, d) entries in order.

    It also carries what the assembler needs at each step, computed once from
    the FSM: the path to open for a value or for a NULL at each definition
    level, and per repetition level the next state and how much of the open
    structure survives the transition.
    """

    def __init__(self, column: Column) -> None:
        self.field = column.field
        self.values = column.values.to_pylist()
        self.rep = column.rep.tolist()
        self.defs = column.defs.tolist()
        self.max_d = column.field.max_d
        self.pos = 0
        self.vpos = 0
        self.path = column.field.ancestors()
        self.null_depth = [_full_definition_depth(column.field, d) for d in range(self.max_d + 1)]
        self.transitions: dict[int, tuple[str, int]] | None = None

    def has_data(self) -> bool:
        return self.pos < len(self.rep)

    def next_repetition_level(self) -> int:
        return self.rep[self.pos] if self.pos < len(self.rep) else 0

    def fetch(self) -> tuple[Any, int, int]:
        r, d = self.rep[self.pos], self.defs[self.pos]
        self.pos += 1
        if d == self.max_d:
            value = self.values[self.vpos]
            self.vpos += 1
            return value, r, d
        return None, r, d

    def compile(self, fsm: dict[str, dict[int, str]], readers: dict[str, FieldReader]) -> None:
        self.transitions = {}
        for level, nxt in fsm[self.field.path].items():
            target = readers[nxt].field if nxt != END else None
            self.transitions[level] = (nxt, _depth_after_transition(self.field, target, level))


def _full_definition_depth(field: Field, d: int) -> int:
    """How many fields of the path exist for a NULL at definition level ``d``.

    The paper's "full definition level": it counts required fields too, so a
    required group under a present parent is materialised (``Language{}``).
    """
    depth = 0
    seen = 0
    for node in field.ancestors():
        if node.label != "required":
            if seen == d:
                break
            seen += 1
        depth += 1
    return min(depth, field.depth - 1) if depth == field.depth else depth


class _Assembler:
    """The stack of open nested records that MoveToLevel / ReturnToLevel manipulate."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {}
        self.stack: list[tuple[Field | None, dict[str, Any]]] = [(None, self.record)]

    def return_to_level(self, depth: int) -> None:
        """End nested records down to ``depth`` (0 = the record itself)."""
        del self.stack[depth + 1:]

    def move_to_level(self, path: list[Field], depth: int) -> None:
        """Start nested records along a field's path (its ancestors) down to ``depth``."""
        while len(self.stack) - 1 < depth:
            node = path[len(self.stack) - 1]
            parent = self.stack[-1][1]
            if node.repeated:
                child: dict[str, Any] = {}
                parent.setdefault(node.name, []).append(child)
            else:
                child = parent.setdefault(node.name, {})
            self.stack.append((node, child))

    def append_value(self, field: Field, value: Any) -> None:
        parent = self.stack[-1][1]
        if field.repeated:
            parent.setdefault(field.name, []).append(value)
        else:
            parent[field.name] = value


def _depth_after_transition(f: Field, g: Field | None, level: int) -> int:
    """How much of the open structure survives moving from ``f`` to ``g`` at ``level``."""
    if g is None:
        return 0
    ga, fa = g.ancestors(), f.ancestors()
    lca = 0
    for x, y in zip(fa, ga, strict=False):
        if x is not y:
            break
        lca += 1
    if _schema_order(g) > _schema_order(f):
        return min(lca, g.depth - 1)  # forward to the barrier: stay in common ancestors
    repeating = f.repeated_ancestor(level)
    return (repeating.depth - 1) if repeating is not None else 0


def _schema_order(f: Field) -> tuple[int, ...]:
    out = []
    node = f
    while node.parent is not None:
        out.append(node.parent.children.index(node))
        node = node.parent
    return tuple(reversed(out))


def assemble_record(readers: dict[str, FieldReader], fsm: dict[str, dict[int, str]], first: str) -> dict[str, Any]:
    """``AssembleRecord`` (Fig. 17): read from the start state until END."""
    asm = _Assembler()
    state = first
    while state != END:
        reader = readers[state]
        if reader.transitions is None:
            reader.compile(fsm, readers)
        value, _r, d = reader.fetch()
        f = reader.field
        if value is not None:
            asm.move_to_level(reader.path, f.depth - 1)  # MoveToLevel(tree level of the field)
            asm.append_value(f, value)
        else:
            asm.move_to_level(reader.path, reader.null_depth[d])  # its full definition level
        state, depth = reader.transitions[reader.next_repetition_level()]  # type: ignore[index]
        asm.return_to_level(depth)
    return asm.record


def assemble(schema: Schema, columns: Mapping[str, Column], fields: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rebuild records from columns, keeping only ``fields`` (paths of columns or groups)."""
    if fields is None:
        selected = [f for f in schema.leaves]
    else:
        wanted: set[str] = set()
        for path in fields:
            for leaf in schema.leaves_under(path):
                wanted.add(leaf.path)
        selected = [f for f in schema.leaves if f.path in wanted]
    if not selected:
        raise BadInput("assemble: select at least one field")
    for f in selected:
        if f.path not in columns:
            raise BadInput(f"assemble: no column for {f.path}")
    readers = {f.path: FieldReader(columns[f.path]) for f in selected}
    fsm = construct_fsm(selected)
    first = selected[0].path
    out = []
    while readers[first].has_data():
        out.append(assemble_record(readers, fsm, first))
    return out
