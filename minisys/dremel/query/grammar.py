"""The query language's grammar: tokens, AST and a recursive-descent parser (Dremel §5).

    query   := SELECT item (',' item)* FROM source [WHERE expr]
               [GROUP BY expr (',' expr)*] [ORDER BY expr [ASC|DESC] (',' ...)*] [LIMIT n]
    item    := expr [WITHIN (RECORD | path)] [AS name]
    source  := name | '(' query ')'
    expr    := or-expression with NOT, AND, OR; comparisons = != <> < <= > >=,
               CONTAINS, IS [NOT] NULL; + - * / %; function calls such as
               REGEXP(x, 'pattern'), COUNT(*), COUNT(DISTINCT x), TOP(x, k)

Errors point at the offending token: line, column and a caret under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from minisys.errors import BadInput

KEYWORDS = {
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "ASC", "DESC", "LIMIT", "AS", "WITHIN",
    "RECORD", "AND", "OR", "NOT", "CONTAINS", "TRUE", "FALSE", "NULL", "DISTINCT", "IS",
}
AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "TOP"}

_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*)
      |(?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?|\.\d+)
      |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<op><=|>=|!=|<>|[-+*/%=<>(),.;])""",
    re.VERBOSE,
)


class QueryError(BadInput):
    """A query the engine cannot run; ``position`` is the offset of the culprit token."""

    def __init__(self, message: str, sql: str, position: int) -> None:
        line = sql.count("\n", 0, position) + 1
        start = sql.rfind("\n", 0, position) + 1
        end = sql.find("\n", position)
        text = sql[start:end if end >= 0 else len(sql)]
        col = position - start + 1
        super().__init__(f"query error at line {line}, column {col}: {message}\n  {text}\n  {' ' * (col - 1)}^")
        self.position = position
        self.line = line
        self.column = col


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, ident, kw, op, end
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(sql: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            raise QueryError(f"unexpected character {sql[pos]!r}", sql, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            if kind == "ident" and text.upper() in KEYWORDS:
                kind = "kw"
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(sql)))
    return tokens


# -- AST ---------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: Any
    pos: int = 0


@dataclass(frozen=True)
class FieldRef:
    path: str
    pos: int = 0


@dataclass(frozen=True)
class Call:
    name: str  # upper case
    args: tuple[Any, ...]
    distinct: bool = False
    star: bool = False
    pos: int = 0


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / % = != < <= > >= AND OR CONTAINS
    left: Any
    right: Any
    pos: int = 0


@dataclass(frozen=True)
class UnaryOp:
    op: str  # NOT, -, ISNULL, NOTNULL
    operand: Any
    pos: int = 0


@dataclass(frozen=True)
class SelectItem:
    expr: Any
    alias: str | None
    within: str | None  # None, "RECORD" or a path
    pos: int = 0
    within_pos: int = 0


@dataclass
class Query:
    items: list[SelectItem]
    source: str | Query
    where: Any = None
    group_by: list[Any] = field(default_factory=list)
    order_by: list[tuple[Any, bool]] = field(default_factory=list)  # (expr, descending)
    limit: int | None = None
    sql: str = ""
    source_pos: int = 0


def text_of(expr: Any) -> str:
    """A canonical rendering, used to match GROUP BY / ORDER BY against select items."""
    if isinstance(expr, Literal):
        return repr(expr.value)
    if isinstance(expr, FieldRef):
        return expr.path
    if isinstance(expr, Call):
        inner = "*" if expr.star else ", ".join(text_of(a) for a in expr.args)
        return f"{expr.name}({'DISTINCT ' if expr.distinct else ''}{inner})"
    if isinstance(expr, BinOp):
        return f"({text_of(expr.left)} {expr.op} {text_of(expr.right)})"
    if isinstance(expr, UnaryOp):
        return f"({expr.op} {text_of(expr.operand)})"
    raise TypeError(expr)


# -- parser ------------------------------------------------------------------
class Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = tokenize(sql)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, expected: str, tok: Token | None = None) -> QueryError:
        tok = tok or self.tok
        got = "end of query" if tok.kind == "end" else repr(tok.text)
        return QueryError(f"expected {expected}, got {got}", self.sql, tok.pos)

    def accept_kw(self, *words: str) -> Token | None:
        if self.tok.kind == "kw" and self.tok.upper in words:
            t = self.tok
            self.i += 1
            return t
        return None

    def expect_kw(self, word: str) -> Token:
        t = self.accept_kw(word)
        if t is None:
            raise self.error(word)
        return t

    def accept_op(self, *ops: str) -> Token | None:
        if self.tok.kind == "op" and self.tok.text in ops:
            t = self.tok
            self.i += 1
            return t
        return None

    def expect_op(self, op: str) -> Token:
        t = self.accept_op(op)
        if t is None:
            raise self.error(repr(op))
        return t

    def parse(self) -> Query:
        q = self.query()
        self.accept_op(";")
        if self.tok.kind != "end":
            raise self.error("end of query")
        return q

    def query(self) -> Query:
        self.expect_kw("SELECT")
        items = [self.item()]
        while self.accept_op(","):
            items.append(self.item())
        self.expect_kw("FROM")
        source_pos = self.tok.pos
        source: str | Query
        if self.accept_op("("):
            source = self.query()
            self.expect_op(")")
        elif self.tok.kind == "ident":
            source = self.path()[0]
        else:
            raise self.error("a table name or a subquery")
        q = Query(items, source, sql=self.sql, source_pos=source_pos)
        if self.accept_kw("WHERE"):
            q.where = self.expr()
        if self.accept_kw("GROUP"):
            self.expect_kw("BY")
            q.group_by = [self.expr()]
            while self.accept_op(","):
                q.group_by.append(self.expr())
        if self.accept_kw("ORDER"):
            self.expect_kw("BY")
            while True:
                e = self.expr()
                desc = bool(self.accept_kw("DESC"))
                if not desc:
                    self.accept_kw("ASC")
                q.order_by.append((e, desc))
                if not self.accept_op(","):
                    break
        if self.accept_kw("LIMIT"):
            if self.tok.kind != "num" or not self.tok.text.isdigit():
                raise self.error("a non-negative integer")
            q.limit = int(self.tok.text)
            self.i += 1
        return q

    def path(self) -> tuple[str, int]:
        if self.tok.kind != "ident":
            raise self.error("a field name")
        start = self.tok.pos
        parts = [self.tok.text]
        self.i += 1
        while self.tok.kind == "op" and self.tok.text == "." and self.tokens[self.i + 1].kind in ("ident", "kw"):
            self.i += 1
            parts.append(self.tok.text)
            self.i += 1
        return ".".join(parts), start

    def item(self) -> SelectItem:
        pos = self.tok.pos
        expr = self.expr()
        within = None
        within_pos = 0
        if self.accept_kw("WITHIN"):
            within_pos = self.tok.pos
            if self.accept_kw("RECORD"):
                within = "RECORD"
            else:
                within = self.path()[0]
        alias = None
        if self.accept_kw("AS"):
            if self.tok.kind != "ident":
                raise self.error("an alias name")
            alias = self.tok.text
            self.i += 1
        return SelectItem(expr, alias, within, pos, within_pos)

    # precedence climbing: OR < AND < NOT < comparison < additive < multiplicative < unary
    def expr(self) -> Any:
        left = self.and_expr()
        while (t := self.accept_kw("OR")) is not None:
            left = BinOp("OR", left, self.and_expr(), t.pos)
        return left

    def and_expr(self) -> Any:
        left = self.not_expr()
        while (t := self.accept_kw("AND")) is not None:
            left = BinOp("AND", left, self.not_expr(), t.pos)
        return left

    def not_expr(self) -> Any:
        if (t := self.accept_kw("NOT")) is not None:
            return UnaryOp("NOT", self.not_expr(), t.pos)
        return self.comparison()

    def comparison(self) -> Any:
        left = self.additive()
        if (t := self.accept_op("=", "!=", "<>", "<", "<=", ">", ">=")) is not None:
            op = "!=" if t.text == "<>" else t.text
            return BinOp(op, left, self.additive(), t.pos)
        if (t := self.accept_kw("CONTAINS")) is not None:
            return BinOp("CONTAINS", left, self.additive(), t.pos)
        if (t := self.accept_kw("IS")) is not None:
            negate = bool(self.accept_kw("NOT"))
            self.expect_kw("NULL")
            return UnaryOp("NOTNULL" if negate else "ISNULL", left, t.pos)
        return left

    def additive(self) -> Any:
        left = self.multiplicative()
        while (t := self.accept_op("+", "-")) is not None:
            left = BinOp(t.text, left, self.multiplicative(), t.pos)
        return left

    def multiplicative(self) -> Any:
        left = self.unary()
        while (t := self.accept_op("*", "/", "%")) is not None:
            left = BinOp(t.text, left, self.unary(), t.pos)
        return left

    def unary(self) -> Any:
        if (t := self.accept_op("-")) is not None:
            return UnaryOp("-", self.unary(), t.pos)
        return self.primary()

    def primary(self) -> Any:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            is_float = any(c in t.text for c in ".eE")
            return Literal(float(t.text) if is_float else int(t.text), t.pos)
        if t.kind == "str":
            self.i += 1
            body = t.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body), t.pos)
        if t.kind == "kw" and t.upper in ("TRUE", "FALSE", "NULL"):
            self.i += 1
            return Literal({"TRUE": True, "FALSE": False, "NULL": None}[t.upper], t.pos)
        if self.accept_op("("):
            e = self.expr()
            self.expect_op(")")
            return e
        if t.kind == "ident":
            if self.tokens[self.i + 1].kind == "op" and self.tokens[self.i + 1].text == "(":
                return self.call()
            path, pos = self.path()
            return FieldRef(path, pos)
        raise self.error("an expression")

    def call(self) -> Call:
        t = self.tok
        name = t.upper
        self.i += 1
        self.expect_op("(")
        if self.accept_op("*"):
            self.expect_op(")")
            if name != "COUNT":
                raise QueryError(f"only COUNT takes *, not {name}", self.sql, t.pos)
            return Call(name, (), star=True, pos=t.pos)
        distinct = bool(self.accept_kw("DISTINCT"))
        args = []
        if not self.accept_op(")"):
            args.append(self.expr())
            while self.accept_op(","):
                args.append(self.expr())
            self.expect_op(")")
        return Call(name, tuple(args), distinct=distinct, pos=t.pos)


def parse(sql: str) -> Query:
    """Parse one statement of the §5 dialect."""
    if not isinstance(sql, str) or not sql.strip():
        raise BadInput("empty query")
    return Parser(sql).parse()
