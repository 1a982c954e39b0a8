"""Query analysis: resolve fields, find each expression's nesting level, rewrite aggregates.

Two rules of §5 decide where a value lives in the output:

* a scalar expression "emits a value at the same level of nesting as the most
  repeated input field used in that expression" — its *context*, the deepest
  repeated field among its inputs (None = the record);
* ``AGG(x) WITHIN path`` emits one value per instance of ``path`` (``WITHIN
  RECORD``: one per record).

Inputs of one expression must lie on one chain of repeated fields:
``Name.Url + Name.Language.Code`` is fine (each Code sits inside one Name),
``Name.Url + Links.Forward`` is refused because the two repeat independently.

For aggregation across records the planner performs the serving tree's
rewriting (§6): every aggregate becomes a *partial* aggregate that leaves
compute per tablet (COUNT → count, AVG → sum and count, COUNT(DISTINCT) →
distinct values) and a *merge* that intermediate servers and the root apply
to their children's partials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minisys.dremel.query.grammar import (
    AGGREGATES,
    BinOp,
    Call,
    FieldRef,
    Literal,
    Query,
    QueryError,
    SelectItem,
    UnaryOp,
    text_of,
)
from minisys.dremel.schema import Field, Schema

SCALAR_FUNCTIONS = {"REGEXP": 2, "LENGTH": 1, "LOWER": 1, "UPPER": 1, "ABS": 1}


def context_level(ctx: Field | None) -> int:
    return 0 if ctx is None else ctx.max_r


def chain(ctx: Field | None) -> list[Field]:
    """The repeated fields from the record down to ``ctx`` (inclusive)."""
    return [] if ctx is None else [f for f in ctx.ancestors() if f.repeated]


def is_within(inner: Field | None, outer: Field | None) -> bool:
    """True if ``outer`` is ``inner`` or one of its repeated ancestors."""
    return outer is None or outer in chain(inner)


def common_context(a: Field | None, b: Field | None) -> Field | None:
    out = None
    for x, y in zip(chain(a), chain(b), strict=False):
        if x is not y:
            break
        out = x
    return out


@dataclass
class Aggregate:
    """One aggregate call, rewritten for partial evaluation (§6)."""

    func: str  # COUNT, SUM, MIN, MAX, AVG, COUNT_DISTINCT, COUNT_STAR
    arg: Any  # expression or None for COUNT(*)
    key: str  # canonical text, to share identical calls
    context: Field | None = None


@dataclass
class OutputItem:
    name: str
    expr: Any
    context: Field | None = None
    within: Field | None = None  # for WITHIN aggregates: the instance level
    within_record: bool = False
    label: str = "optional"


@dataclass
class Plan:
    query: Query
    schema: Schema
    aggregated: bool
    items: list[OutputItem]
    where: Any = None
    where_context: Field | None = None
    group_keys: list[Any] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # output column, descending
    limit: int | None = None
    columns: list[str] = field(default_factory=list)  # columns the query reads

    def __repr__(self) -> str:
        return f"Plan(aggregated={self.aggregated}, items={[i.name for i in self.items]}, columns={self.columns})"


class Planner:
    def __init__(self, query: Query, schema: Schema) -> None:
        self.q = query
        self.schema = schema
        self.columns: list[str] = []

    def fail(self, message: str, pos: int) -> QueryError:
        return QueryError(message, self.q.sql, pos)

    # -- field resolution and contexts -----------------------------------
    def resolve(self, ref: FieldRef) -> Field:
        node = self.schema.nodes.get(ref.path)
        if node is None:
            raise self.fail(f"unknown field {ref.path!r} (columns: {', '.join(self.schema.columns)})", ref.pos)
        if not node.is_leaf:
            raise self.fail(f"{ref.path!r} is a group; name one of its fields", ref.pos)
        if ref.path not in self.columns:
            self.columns.append(ref.path)
        return node

    def context(self, expr: Any, allow_aggregates: bool = False) -> Field | None:
        """The deepest repeated field among the expression's inputs (§5)."""
        deepest: Field | None = None
        deepest_pos = 0
        for ref in self.refs(expr, allow_aggregates):
            leaf = self.resolve(ref)
            ctx = leaf.repeated_ancestor(leaf.max_r) if leaf.max_r else None
            if is_within(ctx, deepest):
                deepest, deepest_pos = ctx, ref.pos
            elif not is_within(deepest, ctx):
                other = deepest.path if deepest is not None else "?"
                raise self.fail(
                    f"{ref.path} and {other} repeat independently; an expression may combine "
                    f"fields only along one chain of repeated fields", ref.pos)
        del deepest_pos
        return deepest

    def refs(self, expr: Any, allow_aggregates: bool) -> list[FieldRef]:
        out: list[FieldRef] = []

        def walk(e: Any) -> None:
            if isinstance(e, FieldRef):
                out.append(e)
            elif isinstance(e, Call):
                if e.name in AGGREGATES and not allow_aggregates:
                    raise self.fail(f"aggregate {e.name} is not allowed here", e.pos)
                for a in e.args:
                    walk(a)
            elif isinstance(e, BinOp):
                walk(e.left)
                walk(e.right)
            elif isinstance(e, UnaryOp):
                walk(e.operand)

        walk(expr)
        return out

    def check_scalar(self, expr: Any) -> None:
        """Function names and arities, before any data is touched."""
        if isinstance(expr, Call):
            if expr.name in AGGREGATES:
                return
            if expr.name not in SCALAR_FUNCTIONS:
                raise self.fail(f"unknown function {expr.name}", expr.pos)
            if len(expr.args) != SCALAR_FUNCTIONS[expr.name]:
                raise self.fail(f"{expr.name} takes {SCALAR_FUNCTIONS[expr.name]} argument(s)", expr.pos)
            if expr.name == "REGEXP" and not (isinstance(expr.args[1], Literal) and isinstance(expr.args[1].value, str)):
                raise self.fail("REGEXP's pattern must be a string literal", expr.pos)
        for child in _children(expr):
            self.check_scalar(child)

    # -- the plan -----------------------------------------------------------
    def plan(self) -> Plan:
        q = self.q
        where_ctx = None
        if q.where is not None:
            self.check_scalar(q.where)
            where_ctx = self.context(q.where)
        has_agg = any(_has_aggregate(it.expr) and it.within is None for it in q.items)
        aggregated = has_agg or bool(q.group_by)
        plan = Plan(q, self.schema, aggregated, [], q.where, where_ctx, limit=q.limit)
        if aggregated:
            self.plan_aggregation(plan)
        else:
            self.plan_nested(plan)
        plan.columns = list(self.columns)
        return plan

    def item_name(self, item: SelectItem, i: int, used: set[str]) -> str:
        if item.alias:
            name = item.alias
        elif isinstance(item.expr, FieldRef):
            name = item.expr.path.split(".")[-1]
        elif isinstance(item.expr, Call) and item.expr.name == "TOP" and item.expr.args and isinstance(item.expr.args[0], FieldRef):
            name = item.expr.args[0].path.split(".")[-1]
        else:
            name = f"f{i}_"
        if name in used:
            raise self.fail(f"duplicate output name {name!r}; add AS", item.pos)
        used.add(name)
        return name

    def plan_nested(self, plan: Plan) -> None:
        used: set[str] = set()
        for i, item in enumerate(self.q.items):
            name = self.item_name(item, i, used)
            self.check_scalar(item.expr)
            if item.within is None:
                ctx = self.context(item.expr)
                label = "optional"
                if isinstance(item.expr, FieldRef):
                    leaf = self.schema.column(item.expr.path)
                    label = "repeated" if leaf.repeated else leaf.label if leaf.max_d == (ctx.max_d if ctx else 0) else "optional"
                plan.items.append(OutputItem(name, item.expr, ctx, label=label))
                continue
            e = item.expr
            if not (isinstance(e, Call) and e.name in AGGREGATES and e.name != "TOP"):
                raise self.fail("WITHIN applies to an aggregate such as COUNT(x) or SUM(x)", item.within_pos)
            arg_ctx = self.context(e.args[0]) if e.args else None
            if e.star:
                raise self.fail("COUNT(*) WITHIN is not supported; count a field", item.pos)
            if item.within == "RECORD":
                within = None
            else:
                node = self.schema.nodes.get(item.within)
                if node is None or not node.repeated:
                    raise self.fail(f"WITHIN needs RECORD or a repeated field, got {item.within!r}", item.within_pos)
                within = node
            if not is_within(arg_ctx, within):
                raise self.fail(f"{text_of(e.args[0])} is not inside {item.within}", item.within_pos)
            plan.items.append(OutputItem(name, e, arg_ctx, within=within, within_record=within is None))
        if self.q.order_by:
            if any(it.context is not None or it.within is not None for it in plan.items):
                raise self.fail("ORDER BY needs a flat result (aggregate, or select only non-repeated fields)",
                                _pos(self.q.order_by[0][0]))
            plan.order_by = [(self.order_name(e, plan), desc) for e, desc in self.q.order_by]

    def plan_aggregation(self, plan: Plan) -> None:
        q = self.q
        aliases = {it.alias: it.expr for it in q.items if it.alias and not _has_aggregate(it.expr)}
        keys = [aliases.get(k.path, k) if isinstance(k, FieldRef) and k.path not in self.schema.nodes else k
                for k in q.group_by]
        top: tuple[Any, int, str] | None = None
        used: set[str] = set()
        names = [self.item_name(item, i, used) for i, item in enumerate(q.items)]
        for item, name in zip(q.items, names, strict=True):
            if item.within is not None:
                raise self.fail("WITHIN cannot be mixed with aggregation across records", item.within_pos)
            e = item.expr
            if isinstance(e, Call) and e.name == "TOP":
                if len(e.args) != 2 or not isinstance(e.args[1], Literal) or not isinstance(e.args[1].value, int):
                    raise self.fail("TOP takes a field and a literal count: TOP(x, 10)", e.pos)
                if top is not None:
                    raise self.fail("only one TOP per query", e.pos)
                top = (e.args[0], e.args[1].value, name)
                if not any(text_of(k) == text_of(e.args[0]) for k in keys):
                    keys.append(e.args[0])
        for k in keys:
            self.check_scalar(k)
            if _has_aggregate(k):
                raise self.fail("GROUP BY cannot contain an aggregate", _pos(k))
        key_texts = [text_of(k) for k in keys]
        key_ctx = None
        for k in keys:
            c = self.context(k)
            if is_within(c, key_ctx):
                key_ctx = c
            elif not is_within(key_ctx, c):
                raise self.fail("GROUP BY keys repeat independently", _pos(k))
        plan.group_keys = keys
        aggs: dict[str, Aggregate] = {}
        alias_of_key = {}
        for item, name in zip(q.items, names, strict=True):
            e = item.expr
            if isinstance(e, Call) and e.name == "TOP":
                e = e.args[0]
            self.check_scalar(e)
            self.collect_aggregates(e, aggs, key_texts, key_ctx)
            if text_of(e) in key_texts:
                alias_of_key[text_of(e)] = name
            plan.items.append(OutputItem(name, e))
        if top is not None:
            star = next((a for a in aggs.values() if a.func == "COUNT_STAR"), None)
            if star is None:
                star = Aggregate("COUNT_STAR", None, "COUNT(*)", key_ctx)
                aggs[star.key] = star
            plan.order_by = [("__" + star.key, True)]
            plan.limit = top[1] if q.limit is None else min(top[1], q.limit)
        plan.aggregates = list(aggs.values())
        if q.order_by:
            plan.order_by = [(self.order_name(e, plan), desc) for e, desc in q.order_by] + plan.order_by

    def collect_aggregates(self, e: Any, aggs: dict[str, Aggregate], key_texts: list[str], key_ctx: Field | None) -> None:
        """Every aggregate call in an output expression; bare fields must be GROUP BY keys."""
        if text_of(e) in key_texts:
            return
        if isinstance(e, Call) and e.name in AGGREGATES:
            if e.name == "TOP":
                raise self.fail("TOP must be a select item of its own", e.pos)
            if e.star:
                func, arg = "COUNT_STAR", None
            else:
                if len(e.args) != 1:
                    raise self.fail(f"{e.name} takes one argument", e.pos)
                arg = e.args[0]
                if _has_aggregate(arg):
                    raise self.fail("aggregates cannot be nested", e.pos)
                func = "COUNT_DISTINCT" if e.distinct else e.name
                if e.distinct and e.name != "COUNT":
                    raise self.fail("DISTINCT is supported in COUNT only", e.pos)
            ctx = key_ctx
            if arg is not None:
                c = self.context(arg)
                if is_within(c, ctx):
                    ctx = c
                elif not is_within(ctx, c):
                    raise self.fail(f"{text_of(arg)} and the GROUP BY keys repeat independently", e.pos)
            key = text_of(e)
            aggs.setdefault(key, Aggregate(func, arg, key, ctx))
            return
        if isinstance(e, FieldRef):
            raise self.fail(f"{e.path} must appear in GROUP BY or inside an aggregate", e.pos)
        for child in _children(e):
            self.collect_aggregates(child, aggs, key_texts, key_ctx)

    def order_name(self, e: Any, plan: Plan) -> str:
        for item in plan.items:
            if (isinstance(e, FieldRef) and e.path == item.name) or text_of(e) == text_of(item.expr):
                return item.name
        raise self.fail(f"ORDER BY {text_of(e)} must name a select item or its alias", _pos(e))


def _children(e: Any) -> list[Any]:
    if isinstance(e, Call):
        return list(e.args)
    if isinstance(e, BinOp):
        return [e.left, e.right]
    if isinstance(e, UnaryOp):
        return [e.operand]
    return []


def _has_aggregate(e: Any) -> bool:
    if isinstance(e, Call) and e.name in AGGREGATES:
        return True
    return any(_has_aggregate(c) for c in _children(e))


def _pos(e: Any) -> int:
    return getattr(e, "pos", 0)


def plan_query(query: Query, schema: Schema) -> Plan:
    return Planner(query, schema).plan()
