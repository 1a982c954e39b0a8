"""What an adapter provides, and how its errors map to history outcomes.

A client operation ends in one of three ways, and the adapter must say
which (Jepsen's rule, and Maelstrom's definite/indefinite error codes):
it returns (``ok``), raises :class:`Failed` (``fail``: it certainly did not
happen — a refused connection, a serialization failure that rolled back,
a cas whose precondition was false) or raises :class:`Indefinite`
(``info``: a timeout or a lost connection after sending, it may or may not
have happened). Any other exception is a bug in the adapter and is also
recorded as ``info`` — never as ``fail``, which would be a claim.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class Failed(Exception):
    """The operation definitely did not take effect."""


class Indefinite(Exception):
    """The operation may or may not have taken effect."""


class Client(ABC):
    """One process's connection. Values are unique per key (the runner ensures it)."""

    @abstractmethod
    def read(self, key: str) -> Any: ...

    @abstractmethod
    def write(self, key: str, value: Any) -> None: ...

    def cas(self, key: str, old: Any, new: Any) -> None:
        raise Failed("cas not supported")

    def append(self, key: str, value: Any) -> None:
        raise Failed("append not supported")

    def add(self, key: str, element: Any) -> None:
        raise Failed("add not supported")

    def close(self) -> None:  # noqa: B027 - optional hook: most clients hold nothing
        return None


class SyncStore(ABC):
    """A real store reached through a driver; one client per process, one thread each."""

    name: str = "store"
    functions: tuple[str, ...] = ("read", "write")
    siblings = False

    def open(self) -> None:  # noqa: B027 - optional hook
        return None

    @abstractmethod
    def client(self, process: int) -> Client: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        return None

    def version(self) -> str:
        return ""


class SimTarget(ABC):
    """A store on a SimNetwork: async clients, harness-owned faults, seeded replay."""

    name: str = "sim"
    functions: tuple[str, ...] = ("read", "write")
    siblings = False
    #: Virtual seconds to wait after healing, for anti-entropy to finish.
    quiesce_seconds = 2.0

    net: Any
    nodes: Sequence[str]
    base_latency: Any = None

    @abstractmethod
    async def read(self, process: int, key: str) -> Any:
        """The register view: None, one value, or a sorted tuple of siblings."""

    @abstractmethod
    async def write(self, process: int, key: str, value: Any) -> None:
        """Write ``value``, superseding what :meth:`context` reports."""

    def context(self, process: int, key: str) -> tuple | None:
        """The values the next write by ``process`` to ``key`` will supersede
        (recorded with the write, for the lost-write checker); None = blind."""
        return None

    async def read_at(self, node: str, key: str) -> Any:
        """A final read served by ``node`` (convergence is per replica)."""
        return await self.read(0, key)

    def replica_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """key → {replica: its state}; empty when the store cannot show replicas."""
        return {}

    def quiesce(self) -> None:
        """After healing: let anti-entropy and handoff finish (bounded virtual time)."""
        self.net.run_for(self.quiesce_seconds)

    def close(self) -> None:
        self.net.close()


def siblings_view(values: Sequence[Any]) -> Any:
    """None for no value, the value itself for one, a sorted tuple for siblings."""
    vals = sorted(set(values), key=repr)
    if not vals:
        return None
    return vals[0] if len(vals) == 1 else tuple(vals)


def decode_value(raw: bytes) -> Any:
    """A stored value back as the int or str the history recorded (stores hold bytes)."""
    text = raw.decode("utf-8", "replace")
    try:
        return int(text)
    except ValueError:
        return text


def cart_view(values: Sequence[bytes]) -> tuple:
    """A Dynamo shopping cart's items: the union of its siblings (§4.4), decoded and sorted."""
    from minisys.dynamo import cart_union

    return tuple(sorted(decode_value(x) for x in cart_union(list(values)).split(b",") if x))
