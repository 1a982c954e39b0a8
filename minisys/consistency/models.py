"""Sequential specifications: what one copy of the object would have answered.

Linearizability is defined against a sequential specification (Herlihy &
Wing 1990, §2): a history is linearizable if its operations can be put in
one order, consistent with real time, that this single-threaded object
would have produced. Each model here is Porcupine's shape — an initial
state and a *pure* ``step(state, op) -> new state | IMPOSSIBLE`` (this op with this
output cannot happen here) — so states can be memoised. ``None`` is a state
(the absent value), which is why impossibility has its own marker.

States are hashable (``None``, scalars, tuples). Per-key partitioning
(P-compositionality, Horn & Kroening 2015) happens in the checker, so every
model describes a single key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minisys.consistency.history import Operation
from minisys.errors import BadInput

State = Any


class _Impossible:
    def __repr__(self) -> str:
        return "IMPOSSIBLE"


IMPOSSIBLE: Any = _Impossible()


@dataclass(frozen=True)
class Model:
    """A sequential object: a name, the functions it accepts, ``init`` and ``step``."""

    name: str
    functions: tuple[str, ...]

    def init(self) -> State:
        return None

    def step(self, state: State, op: Operation) -> State:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self, ops: list[Operation]) -> None:
        for op in ops:
            if op.f not in self.functions:
                where = f" (line {op.line})" if op.line else ""
                raise BadInput(f"model {self.name!r} has no operation {op.f!r}{where}; it accepts {', '.join(self.functions)}")


class Register(Model):
    """A read/write register: reads see the last write, or None before any."""

    def step(self, state: State, op: Operation) -> State:
        if op.f in ("read", "get"):
            return state if op.output == state else IMPOSSIBLE
        return op.value  # write / put


class CASRegister(Register):
    """A register with compare-and-set: ``cas [from, to]`` sets ``to`` iff it holds ``from``.

    A *failed* cas (precondition false) is reported as ``fail`` and never
    reaches the model; an ok or indefinite cas took effect only if the
    register held ``from`` at its linearization point.
    """

    def step(self, state: State, op: Operation) -> State:
        if op.f == "cas":
            frm, to = op.value
            return to if state == frm else IMPOSSIBLE
        return super().step(state, op)


class KV(CASRegister):
    """One key of a key/value map with append (Maelstrom's lin-kv plus list append).

    ``append v`` adds ``v`` to the list held at the key (an absent key is the
    empty list); a read of an appended key returns the whole list.
    """

    def step(self, state: State, op: Operation) -> State:
        if op.f == "append":
            if state is not None and not isinstance(state, tuple):
                return IMPOSSIBLE  # appending to a scalar is impossible for this object
            return (state or ()) + (op.value,)
        if op.f in ("read", "get") and op.output == () and state is None:
            return state  # reading an absent list as empty
        return super().step(state, op)


REGISTER = Register("register", ("read", "write", "get", "put"))
CAS_REGISTER = CASRegister("cas-register", ("read", "write", "get", "put", "cas"))
KV_MODEL = KV("kv", ("read", "write", "get", "put", "cas", "append"))

MODELS: dict[str, Model] = {m.name: m for m in (REGISTER, CAS_REGISTER, KV_MODEL)}


def model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise BadInput(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
