"""Histories: what clients asked for, and what they were told, in real time.

A history is the record Jepsen and Knossos check (Herlihy & Wing 1990, §2):
each client *process* issues one operation at a time; an operation is an
``invoke`` event followed by exactly one completion:

* ``ok``   — it happened; a read's ``ok`` carries the observed value;
* ``fail`` — it definitely did not happen;
* ``info`` — *indefinite*: a timeout or crash, it may or may not have taken
  effect, at any time after its invocation. Every checker here treats it so.

An invoke that never completes (the history ends first, or the same process
invokes again) is indefinite too — never an error.

Files are JSON lines, one event per line::

    {"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 3}
    {"process": 0, "type": "ok", "f": "write", "key": "x", "value": 3}

or Jepsen's EDN lines (``{:process 0, :type :invoke, :f :read, :value nil}``).
Optional fields: ``time`` (any monotone number; the line order is used when
absent), ``context`` (values a write had read, for sibling stores), ``node``
(the replica or coordinator that served it) and ``final`` (a read made
after quiescence, for the lost-write and convergence checkers).
"""

from __future__ import annotations

import json
import math
import threading
import time as _time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from minisys.consistency import edn
from minisys.errors import BadInput

TYPES = ("invoke", "ok", "fail", "info")
FUNCTIONS = ("read", "write", "cas", "get", "put", "append", "add")
#: Functions that only observe state; an indefinite one can be dropped.
READS = ("read", "get")
INFINITY = math.inf


@dataclass(frozen=True)
class Event:
    """One line of a history file."""

    process: Any
    type: str
    f: str
    key: Any = None
    value: Any = None
    time: float | None = None
    line: int = 0
    context: tuple | None = None
    node: Any = None
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"process": self.process, "type": self.type, "f": self.f}
        if self.key is not None:
            out["key"] = self.key
        out["value"] = _plain(self.value)
        if self.time is not None:
            out["time"] = self.time
        if self.context is not None:
            out["context"] = _plain(self.context)
        if self.node is not None:
            out["node"] = self.node
        if self.final:
            out["final"] = True
        return out


@dataclass(frozen=True)
class Operation:
    """An invoke paired with its completion: the unit every checker reasons about.

    ``call``/``ret`` bound the instant the operation took effect, if it did
    (Herlihy & Wing's linearization point). ``ret`` is infinite for
    indefinite operations: they may take effect at any later time, or never.
    """

    id: int
    process: Any
    f: str
    key: Any
    value: Any  # what was asked: the written value, the cas pair, the element added
    output: Any  # what was observed: a read's value (None = absent)
    status: str  # "ok", "fail" or "info"
    call: float
    ret: float
    line: int = 0
    context: tuple | None = None
    node: Any = None
    final: bool = False
    #: Completed ok in the history, but treated as indefinite by a shrunk explanation.
    weakened: bool = False

    @property
    def indefinite(self) -> bool:
        return self.status == "info"

    @property
    def is_read(self) -> bool:
        return self.f in READS

    def precedes(self, other: Operation) -> bool:
        """Real-time order: this one returned before ``other`` was invoked."""
        return self.ret < other.call

    def describe(self) -> str:
        """One line for explanations: ``p1 write x 3 ok [2..5]`` (line N)."""
        what = f"{self.f} {self.key} " if self.key is not None else f"{self.f} "
        if self.f in READS:
            what += "→ " + json.dumps(_plain(self.output)) if self.status == "ok" else "?"
        else:
            what += json.dumps(_plain(self.value))
        end = "∞" if self.ret == INFINITY else _num(self.ret)
        where = f", line {self.line}" if self.line else ""
        status = "ok (may be left out)" if self.weakened else self.status
        return f"p{self.process} {what} {status} [{_num(self.call)}..{end}]{where}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _plain(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((_plain(x) for x in v), key=repr)
    return v


def _freeze(v: Any) -> Any:
    """Values must be hashable to live in model states and memo tables."""
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


@dataclass
class History:
    """An ordered list of events, and the operations they pair into."""

    events: list[Event] = field(default_factory=list)
    source: str = "<history>"

    def __len__(self) -> int:
        return len(self.events)

    def operations(self) -> list[Operation]:
        return pair(self.events, self.source)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w") as fh:
            for ev in self.events:
                fh.write(json.dumps(ev.to_json()) + "\n")
        return path


def pair(events: Iterable[Event], source: str = "<history>") -> list[Operation]:
    """Match every completion to its process's open invoke.

    A completion with no open invoke is bad input (it names the line); an
    invoke left open — by the end of the history or by a later invoke of the
    same process — becomes an indefinite operation.
    """
    events = list(events)
    use_time = bool(events) and all(ev.time is not None for ev in events)
    open_: dict[Any, tuple[Event, float]] = {}
    done: list[tuple[Event, float, Event | None, float]] = []
    for i, ev in enumerate(events):
        t = float(ev.time) if use_time else float(i)  # type: ignore[arg-type]
        if ev.type == "invoke":
            if ev.process in open_:
                inv, t0 = open_.pop(ev.process)
                done.append((inv, t0, None, INFINITY))
            open_[ev.process] = (ev, t)
            continue
        if ev.process not in open_:
            raise BadInput(f"{source}:{ev.line or i + 1}: {ev.type} for process {ev.process} which has no open invoke")
        inv, t0 = open_.pop(ev.process)
        if inv.f != ev.f:
            raise BadInput(f"{source}:{ev.line or i + 1}: {ev.type} of {ev.f!r} completes an invoke of {inv.f!r} (line {inv.line})")
        done.append((inv, t0, ev, t))
    for inv, t0 in open_.values():
        done.append((inv, t0, None, INFINITY))
    done.sort(key=lambda d: (d[1], d[0].line))
    ops = []
    for n, (inv, t0, comp, t1) in enumerate(done):
        status = comp.type if comp is not None else "info"
        if status == "info":
            t1 = INFINITY
        output = _freeze(comp.value) if comp is not None and status == "ok" else None
        ctx = inv.context if inv.context is not None else (comp.context if comp else None)
        ops.append(
            Operation(
                id=n, process=inv.process, f=inv.f, key=_freeze(inv.key if inv.key is not None else (comp.key if comp else None)),
                value=_freeze(inv.value), output=output, status=status, call=t0, ret=t1, line=inv.line,
                context=_freeze(ctx), node=comp.node if comp is not None and comp.node is not None else inv.node,
                final=inv.final,
            )
        )
    return ops


# --- reading -----------------------------------------------------------------


def _event(raw: Any, where: str, line: int) -> Event:
    if not isinstance(raw, dict):
        raise BadInput(f"{where}:{line}: expected one operation as a map/object, got {type(raw).__name__}")
    for name in ("process", "type", "f"):
        if name not in raw:
            raise BadInput(f"{where}:{line}: missing field {name!r}")
    typ, f = raw["type"], raw["f"]
    if typ not in TYPES:
        raise BadInput(f"{where}:{line}: unknown type {typ!r} (expected one of {', '.join(TYPES)})")
    if f not in FUNCTIONS:
        raise BadInput(f"{where}:{line}: unknown f {f!r} (expected one of {', '.join(FUNCTIONS)})")
    value = raw.get("value")
    if f == "cas" and typ == "invoke" and not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise BadInput(f"{where}:{line}: cas needs value [from, to], got {json.dumps(_plain(value))}")
    t = raw.get("time")
    if t is not None and not isinstance(t, (int, float)):
        raise BadInput(f"{where}:{line}: time must be a number, got {t!r}")
    ctx = raw.get("context")
    return Event(
        process=raw["process"], type=typ, f=f, key=raw.get("key"), value=value, time=t, line=line,
        context=tuple(ctx) if isinstance(ctx, (list, tuple)) else None, node=raw.get("node"),
        final=bool(raw.get("final", False)),
    )


def parse_lines(lines: Iterable[str], source: str = "<history>") -> History:
    """Parse JSON or EDN lines (detected per line); blank lines are skipped."""
    events = []
    for n, text in enumerate(lines, start=1):
        s = text.strip()
        if not s or s.startswith(";"):
            continue
        if s.startswith("{:") or s.startswith("{ :"):
            try:
                raw = edn.loads(s)
            except edn.EDNError as exc:
                raise BadInput(f"{source}:{n}: malformed EDN: {exc}") from None
        else:
            try:
                raw = json.loads(s)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{source}:{n}: malformed JSON: {exc.msg} at column {exc.colno}") from None
        events.append(_event(raw, source, n))
    return History(events, source)


def read_history(path: str | Path) -> History:
    """Read a JSON-lines or Jepsen EDN history file; errors name file and line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return parse_lines(fh, str(path))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such history file") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason})") from None


def from_operations(ops: Iterable[Operation]) -> History:
    """The event list for operations (used to write shrunk explanations)."""
    evs: list[tuple[float, int, Event]] = []
    for op in ops:
        evs.append((op.call, 0, Event(op.process, "invoke", op.f, op.key, op.value, op.call, context=op.context, node=op.node, final=op.final)))
        if op.ret != INFINITY:
            val = op.output if op.is_read else op.value
            evs.append((op.ret, 1, Event(op.process, op.status, op.f, op.key, val, op.ret, node=op.node, final=op.final)))
    evs.sort(key=lambda e: (e[0], e[1]))
    return History([e for _, _, e in evs])


# --- recording -----------------------------------------------------------------


class Recorder:
    """Records a live history from many threads or tasks.

    ``clock`` defaults to ``time.monotonic``; simulated runs pass the
    network's virtual clock so histories replay exactly from a seed.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or _time.monotonic
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def _add(self, ev: Event) -> Event:
        with self._lock:
            ev = replace(ev, time=self.clock(), line=len(self.events) + 1)
            self.events.append(ev)
            return ev

    def invoke(self, process: Any, f: str, key: Any = None, value: Any = None, *,
               context: Iterable[Any] | None = None, node: Any = None, final: bool = False) -> Event:
        ctx = tuple(context) if context is not None else None
        return self._add(Event(process, "invoke", f, key, value, context=ctx, node=node, final=final))

    def complete(self, invoke: Event, type: str, value: Any = None, *, node: Any = None,
                 context: Iterable[Any] | None = None) -> Event:
        if type not in ("ok", "fail", "info"):
            raise ValueError(f"completion type must be ok, fail or info, not {type!r}")
        if value is None and type != "ok":
            value = invoke.value
        if value is None and invoke.f not in READS:
            value = invoke.value
        ctx = tuple(context) if context is not None else None
        return self._add(Event(invoke.process, type, invoke.f, invoke.key, value, node=node,
                               context=ctx, final=invoke.final))

    def history(self) -> History:
        with self._lock:
            return History(list(self.events), "<recorded>")

    def __iter__(self) -> Iterator[Event]:
        return iter(self.history().events)
