"""Hypothesis strategies for fault schedules: Jepsen's nemesis, generated and shrunk.

A fault schedule is a list of ``(at, fault)`` pairs in virtual seconds. The
faults are the ones Jepsen's nemeses and Maelstrom's ``net.clj`` inject —
partitions, crashes and restarts, clock skew, message loss, slow links —
plus heal. Hypothesis generates them and, when a property fails, *shrinks*
them: fewer faults, earlier, simpler — so a failure is reported as the
smallest schedule that still breaks the store, and, run on the seeded
simulator, replays exactly from ``(seed, schedule)``.

Faults are data (frozen dataclasses); :func:`apply_fault` performs one on a
:class:`~minisys.net.SimNetwork`. Adapters for real processes perform the
same data their own way (a crash is a real SIGKILL there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from minisys.net import Constant, SimNetwork


@dataclass(frozen=True)
class Partition:
    """Cut every link between ``side`` and the other nodes (clients stay connected to both)."""

    side: tuple[str, ...]
    other: tuple[str, ...]


@dataclass(frozen=True)
class Heal:
    """Remove every partition, and every lossy or slow link."""


@dataclass(frozen=True)
class Crash:
    node: str


@dataclass(frozen=True)
class Restart:
    node: str


@dataclass(frozen=True)
class ClockSkew:
    node: str
    seconds: float


@dataclass(frozen=True)
class MessageLoss:
    """Drop this share of all messages from now on (until healed)."""

    probability: float


@dataclass(frozen=True)
class SlowLink:
    """Make one link (both ways) take ``seconds`` per message (Maelstrom's ``slow!``)."""

    a: str
    b: str
    seconds: float


Fault = Partition | Heal | Crash | Restart | ClockSkew | MessageLoss | SlowLink
Schedule = tuple[tuple[float, Fault], ...]
KINDS = ("partition", "crash", "restart", "skew", "loss", "slow", "heal")


def faults(nodes: Sequence[str], kinds: Sequence[str] = KINDS) -> st.SearchStrategy[Fault]:
    """One fault among ``kinds`` over ``nodes``."""
    nodes = list(nodes)
    options: list[st.SearchStrategy[Fault]] = []

    @st.composite
    def partition(draw: st.DrawFn) -> Partition:
        side = draw(st.sets(st.sampled_from(nodes), min_size=1, max_size=max(1, len(nodes) - 1)))
        return Partition(tuple(n for n in nodes if n in side), tuple(n for n in nodes if n not in side))

    node = st.sampled_from(nodes)
    table = {
        "partition": partition(),
        "crash": node.map(Crash),
        "restart": node.map(Restart),
        "skew": st.builds(ClockSkew, node, st.sampled_from([-5.0, -0.5, 0.5, 5.0])),
        "loss": st.sampled_from([0.1, 0.3, 0.5]).map(MessageLoss),
        "slow": st.builds(SlowLink, node, node, st.sampled_from([0.05, 0.2])).filter(lambda s: s.a != s.b),
        "heal": st.just(Heal()),
    }
    for kind in kinds:
        if kind not in table:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {', '.join(KINDS)}")
        options.append(table[kind])
    return st.one_of(options)


def fault_schedules(nodes: Sequence[str], *, kinds: Sequence[str] = KINDS, max_faults: int = 6,
                    horizon: float = 1.0) -> st.SearchStrategy[Schedule]:
    """Up to ``max_faults`` faults at times in ``[0, horizon)``, sorted by time.

    Times are multiples of 1/100 s so shrinking lands on round numbers.
    """
    step = st.tuples(st.integers(0, max(0, int(horizon * 100) - 1)).map(lambda t: t / 100), faults(nodes, kinds))
    return st.lists(step, max_size=max_faults).map(lambda xs: tuple(sorted(xs, key=lambda p: p[0])))


def apply_fault(net: SimNetwork, fault: Fault, *, base_latency: object = None) -> None:
    """Perform ``fault`` on the simulator (idempotent where the fault is)."""
    if isinstance(fault, Partition):
        if fault.other:
            net.partition(fault.side, fault.other)
    elif isinstance(fault, Heal):
        heal(net, base_latency=base_latency)
    elif isinstance(fault, Crash):
        net.crash(fault.node)
    elif isinstance(fault, Restart):
        if not net.is_up(fault.node):
            net.restart(fault.node)
    elif isinstance(fault, ClockSkew):
        net.set_clock(fault.node, skew=fault.seconds)
    elif isinstance(fault, MessageLoss):
        net.set_default_link(loss=fault.probability)
    elif isinstance(fault, SlowLink):
        net.set_link(fault.a, fault.b, latency=Constant(fault.seconds))
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"not a fault: {fault!r}")


def heal(net: SimNetwork, *, base_latency: object = None, nodes: Sequence[str] | None = None) -> None:
    """Undo network faults: partitions, loss, slow links. Crashed nodes stay down."""
    net.heal()
    net.set_default_link(loss=0.0)
    ids = list(nodes) if nodes is not None else list(net.node_ids)
    for a in ids:
        for b in ids:
            if a < b:
                net.set_link(a, b, loss=0.0, latency=base_latency)  # type: ignore[arg-type]


def recover(net: SimNetwork, nodes: Sequence[str], *, base_latency: object = None) -> None:
    """Jepsen's final phase: heal the network, restart every crashed node, fix clocks."""
    heal(net, base_latency=base_latency, nodes=nodes)
    for n in nodes:
        if not net.is_up(n):
            net.restart(n)
        net.set_clock(n, skew=0.0)


def describe(schedule: Schedule) -> str:
    """One line per fault, for reports and failure messages."""
    return "\n".join(f"t={at:.2f}s {fault}" for at, fault in schedule) or "(no faults)"
