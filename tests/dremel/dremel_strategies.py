"""Hypothesis strategies: random nested schemas and records that conform to them.

Records are in canonical form: an absent optional field and an empty repeated
field are both omitted (the encoding cannot tell an empty list from a missing
one, so neither can the round trip); present groups may be empty.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from minisys.dremel.schema import Field, Schema

NAMES = "abcdefgh"


@st.composite
def fields(draw: Any, depth: int = 0) -> list[Field]:
    count = draw(st.integers(1, 3 if depth < 2 else 2))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=count, max_size=count, unique=True))
    out = []
    for name in names:
        label = draw(st.sampled_from(["required", "optional", "repeated"]))
        if depth < 3 and draw(st.booleans()):
            out.append(Field(name, label, None, draw(fields(depth + 1))))
        else:
            out.append(Field(name, label, draw(st.sampled_from(["int64", "string", "bool"]))))
    return out


schemas = fields().map(lambda fs: Schema("R", fs))

_VALUES = {"int64": st.integers(-(2**40), 2**40), "string": st.text(max_size=4), "bool": st.booleans()}


@st.composite
def record_for(draw: Any, node: Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in node.children:
        def one(child: Field = child) -> Any:
            return draw(_VALUES[child.type]) if child.is_leaf else draw(record_for(child))

        if child.repeated:
            n = draw(st.integers(0, 3))
            if n:
                out[child.name] = [one() for _ in range(n)]
        elif child.optional:
            if draw(st.booleans()):
                out[child.name] = one()
        else:
            out[child.name] = one()
    return out


@st.composite
def schema_and_records(draw: Any) -> tuple[Schema, list[dict[str, Any]]]:
    schema = draw(schemas)
    records = draw(st.lists(record_for(schema.root), min_size=0, max_size=6))
    return schema, records


def project(node: Field, value: dict[str, Any], selected: set[str]) -> dict[str, Any]:
    """What a record looks like "as if it contained just the selected fields" (§4.3)."""
    out: dict[str, Any] = {}
    for child in node.children:
        if not any(leaf.path in selected for leaf in child.leaves()) or child.name not in value:
            continue
        v = value[child.name]
        if child.is_leaf:
            out[child.name] = v
        elif child.repeated:
            out[child.name] = [project(child, item, selected) for item in v]
        else:
            out[child.name] = project(child, v, selected)
    return out
