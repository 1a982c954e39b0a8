from __future__ import annotations

import asyncio
import hashlib
import os
import random
import statistics
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable

import pytest

from minisys.net import (
    Constant,
    Exponential,
    LogNormal,
    MessageEncodeError,
    Node,
    Pareto,
    RemoteError,
    RpcTimeout,
    SimDeadlock,
    SimNetwork,
    SimTimeLimit,
    Transport,
    Uniform,
    Unreachable,
    handler,
)
from minisys.net.examples import GossipNode

from .protocol import Bag, Boom, Echo, Echoed, Note, Recorder, Slow, Unhandled

MakeSim = Callable[..., SimNetwork]


def recorder(net: SimNetwork, node_id: str, **kwargs: float) -> Recorder:
    node = net.add_node(node_id, Recorder, **kwargs)
    assert isinstance(node, Recorder)
    return node


def gossip_trace(seed: int) -> list:
    """A busy run: 8 gossiping nodes, long-tail latency, loss, duplicates, a partition."""
    with SimNetwork(seed, latency=LogNormal(0.002, 1.0), loss=0.05, duplicate=0.05) as net:
        for i in range(8):
            node = net.add_node(f"n{i}", GossipNode)
            assert isinstance(node, GossipNode)
            node.merge(frozenset([f"item{i}"]))
        net.run_for(0.5)
        net.partition(["n0", "n1", "n2"])
        net.run_for(0.5)
        net.crash("n5")
        net.heal()
        net.run_for(0.5)
        net.restart("n5")
        net.run_for(0.5)
        return list(net.trace)


# --- determinism -----------------------------------------------------------------


def test_same_seed_gives_identical_message_trace() -> None:
    first, second = gossip_trace(42), gossip_trace(42)
    assert len(first) > 300
    assert {e.event for e in first} >= {"sent", "delivered", "dropped", "duplicated", "crash", "restart"}
    assert first == second


def test_different_seeds_give_different_traces() -> None:
    assert gossip_trace(1) != gossip_trace(2)


def test_same_seed_gives_identical_trace_across_processes_and_hash_seeds() -> None:
    script = textwrap.dedent(
        """
        import hashlib, sys
        sys.path.insert(0, sys.argv[1])
        from net.test_sim import gossip_trace
        print(hashlib.sha256(repr(gossip_trace(7)).encode()).hexdigest())
        """
    )
    tests_dir = os.path.dirname(os.path.dirname(__file__))
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", script, tests_dir], env=env,
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    digests.add(hashlib.sha256(repr(gossip_trace(7)).encode()).hexdigest())
    assert len(digests) == 1


def test_node_randomness_is_seeded_per_node_and_incarnation(make_sim: MakeSim) -> None:
    draws = []
    for _ in range(2):
        net = make_sim(9)
        a, b = net.add_node("a"), net.add_node("b")
        draws.append((a.random.random(), b.random.random()))
    assert draws[0] == draws[1]
    assert draws[0][0] != draws[0][1]
    net.crash("a")
    assert net.restart("a").random.random() != draws[0][0]


# --- time and clocks ----------------------------------------------------------------


def test_virtual_time_jumps_over_an_hour_of_sleeping(make_sim: MakeSim) -> None:
    net = make_sim()
    node = net.add_node("a")

    async def nap() -> float:
        await node.sleep(3600.0)
        return node.now()

    assert net.run(nap()) == 3600.0
    assert net.now == 3600.0


def test_clock_skew_shifts_node_local_now(make_sim: MakeSim) -> None:
    net = make_sim()
    ahead = recorder(net, "ahead", skew=5.0)
    drifting = recorder(net, "drifting", skew=-2.0, drift=0.01)
    exact = recorder(net, "exact")
    net.run_for(100.0)
    assert ahead.now() == pytest.approx(105.0)
    assert drifting.now() == pytest.approx(99.0)
    assert exact.now() == pytest.approx(100.0)
    net.set_clock("ahead", skew=-1.0)
    assert ahead.now() == pytest.approx(99.0)

    # Timestamps a node takes are in its own clock.
    net.set_default_link(latency=Constant(0.5))
    exact.send("ahead", Note(1))
    net.run_for(1.0)
    assert ahead.notes == [(1, "exact", pytest.approx(100.5 - 1.0))]


# --- latency, loss, duplication, reordering -------------------------------------------


def test_latency_distributions_have_the_configured_shape() -> None:
    rng = random.Random(3)

    def draw(dist: object, n: int = 20000) -> list[float]:
        return [dist.sample(rng) for _ in range(n)]  # type: ignore[attr-defined]

    assert set(draw(Constant(0.004), 100)) == {0.004}
    uniform = draw(Uniform(0.001, 0.003))
    assert 0.001 <= min(uniform) and max(uniform) <= 0.003
    assert statistics.mean(uniform) == pytest.approx(0.002, rel=0.02)
    expo = draw(Exponential(mean=0.01, floor=0.001))
    assert min(expo) >= 0.001
    assert statistics.mean(expo) == pytest.approx(0.011, rel=0.05)
    lognormal = draw(LogNormal(median=0.002, sigma=1.0, cap=1.0))
    assert statistics.median(lognormal) == pytest.approx(0.002, rel=0.05)
    assert max(lognormal) <= 1.0
    pareto = sorted(draw(Pareto(scale=0.001, alpha=1.5)))
    assert pareto[0] >= 0.001
    assert pareto[int(0.99 * len(pareto))] > 10 * pareto[len(pareto) // 2]  # a long tail
    with pytest.raises(ValueError):
        Uniform(0.003, 0.001)


def test_per_link_latency_overrides_the_default(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.001))
    a, b, c = recorder(net, "a"), recorder(net, "b"), recorder(net, "c")
    net.set_link("a", "b", latency=Constant(0.5), both_ways=False)
    a.send("b", Note(1))
    a.send("c", Note(2))
    b.send("a", Note(3))
    net.run_for(1.0)
    assert b.notes == [(1, "a", 0.5)]
    assert c.notes == [(2, "a", 0.001)]
    assert a.notes == [(3, "b", 0.001)]


def test_loss_and_duplication_rates_follow_configuration(make_sim: MakeSim) -> None:
    net = make_sim(5, loss=0.2, duplicate=0.1)
    a, b = recorder(net, "a"), recorder(net, "b")
    n = 5000
    for i in range(n):
        a.send("b", Note(i))
    net.run_for(1.0)
    stats = net.stats()
    assert stats["sent"] == n
    assert stats["dropped"] / n == pytest.approx(0.2, abs=0.03)
    assert stats["duplicated"] / (n - stats["dropped"]) == pytest.approx(0.1, abs=0.03)
    assert len(b.notes) == stats["delivered"] == n - stats["dropped"] + stats["duplicated"]
    assert len({note[0] for note in b.notes}) == n - stats["dropped"]
    assert {e.note for e in net.trace if e.event == "dropped"} == {"loss"}


def test_random_latency_reorders_messages_and_constant_latency_keeps_fifo(make_sim: MakeSim) -> None:
    orders = {}
    for name, latency in (("uniform", Uniform(0.001, 0.010)), ("constant", Constant(0.002))):
        net = make_sim(1, latency=latency)
        a, b = recorder(net, "a"), recorder(net, "b")
        for i in range(100):
            a.send("b", Note(i))
        net.run_for(1.0)
        orders[name] = [n for n, _, _ in b.notes]
    assert sorted(orders["uniform"]) == list(range(100)) != orders["uniform"]
    assert orders["constant"] == list(range(100))


# --- partitions -----------------------------------------------------------------------


def test_partition_drops_messages_between_groups_until_heal(make_sim: MakeSim) -> None:
    net = make_sim()
    a, b, c, d = (recorder(net, x) for x in "abcd")
    net.partition(["a", "b"], ["c"])

    async def scenario() -> None:
        a.send("c", Note(1))  # across: dropped
        c.send("b", Note(2))  # across: dropped
        a.send("b", Note(3))  # same side
        c.send("d", Note(4))  # d is in neither group
        await asyncio.sleep(0.1)
        net.heal()
        a.send("c", Note(5))
        await asyncio.sleep(0.1)

    net.run(scenario())
    assert [n for n, _, _ in c.notes] == [5]
    assert [n for n, _, _ in b.notes] == [3]
    assert [n for n, _, _ in d.notes] == [4]
    drops = [(e.src, e.dst, e.note) for e in net.trace if e.event == "dropped"]
    assert drops == [("a", "c", "partition"), ("c", "b", "partition")]


def test_partition_of_one_group_cuts_it_from_everyone_else(make_sim: MakeSim) -> None:
    net = make_sim()
    a, b, c = recorder(net, "a"), recorder(net, "b"), recorder(net, "c")
    net.partition(["a"])
    a.send("b", Note(1))
    b.send("c", Note(2))
    net.run_for(0.1)
    assert (a.notes, b.notes, [n for n, _, _ in c.notes]) == ([], [], [2])


def test_messages_in_flight_when_a_partition_starts_are_dropped(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(1.0))
    a, b = recorder(net, "a"), recorder(net, "b")
    a.send("b", Note(1))
    net.run_for(0.5)
    net.partition(["a"], ["b"])
    net.run_for(1.0)
    assert b.notes == []


def test_rpc_times_out_across_partition(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    net.partition(["a"], ["b"])

    async def ask() -> RpcTimeout:
        with pytest.raises(RpcTimeout) as err:
            await a.call("b", Echo("hello?"), timeout=0.25)
        return err.value

    err = net.run(ask())
    assert net.now == pytest.approx(0.25)
    assert "no reply from 'b' to nettest.Echo within 0.25s" in str(err)


def test_lost_reply_is_a_timeout_too(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    net.set_link("b", "a", loss=1.0, both_ways=False)

    async def ask() -> None:
        await a.call("b", Echo("x"), timeout=0.5)

    with pytest.raises(RpcTimeout):
        net.run(ask())
    assert [e.kind for e in net.trace if e.event == "delivered"] == ["call"]


# --- crashes --------------------------------------------------------------------------


class Counter(Node):
    """Counts notes in memory and in storage, and ticks in the background."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.in_memory = 0
        self.ticks = 0

    async def start(self) -> None:
        self.spawn(self.tick())

    async def tick(self) -> None:
        while True:
            await self.sleep(0.1)
            self.ticks += 1

    @handler
    async def on_note(self, msg: Note, sender: str) -> None:
        self.in_memory += 1
        self.storage["count"] = self.storage.get("count", 0) + 1


def test_crashed_node_loses_memory_but_keeps_persisted_state(make_sim: MakeSim) -> None:
    net = make_sim()
    sender = net.add_node("sender")
    before = net.add_node("counter", Counter)
    assert isinstance(before, Counter)
    for i in range(3):
        sender.send("counter", Note(i))
    net.run_for(1.0)
    assert (before.in_memory, net.storage("counter")["count"]) == (3, 3)

    net.crash("counter")
    assert not net.is_up("counter")
    with pytest.raises(Unreachable):
        net.node("counter")
    after = net.restart("counter")
    assert isinstance(after, Counter) and after is not before
    assert after.in_memory == 0
    assert after.storage["count"] == 3
    sender.send("counter", Note(4))
    net.run_for(1.0)
    assert (after.in_memory, after.storage["count"]) == (1, 4)


def test_crash_cancels_the_nodes_background_tasks(make_sim: MakeSim) -> None:
    net = make_sim()
    node = net.add_node("n", Counter)
    assert isinstance(node, Counter)
    net.run_for(1.05)
    assert node.ticks == 10
    net.crash("n")
    net.run_for(1.0)
    assert node.ticks == 10
    with pytest.raises(RuntimeError, match="down"):
        node.spawn(asyncio.sleep(1))


def test_messages_in_flight_to_a_crashed_node_are_dropped(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(1.0))
    a, _ = recorder(net, "a"), recorder(net, "b")
    a.send("b", Note(1))
    net.run_for(0.5)
    net.crash("b")
    restarted = net.restart("b")  # a new incarnation does not get the old one's mail
    net.run_for(1.0)
    assert isinstance(restarted, Recorder) and restarted.notes == []
    assert [(e.event, e.note) for e in net.trace if e.type == "nettest.Note"][-1] == ("dropped", "down")


def test_call_to_crashed_node_is_unreachable(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.01))
    a, _ = recorder(net, "a"), recorder(net, "b")
    net.crash("b")

    async def ask() -> None:
        await a.call("b", Echo("anyone?"), timeout=5.0)

    with pytest.raises(Unreachable, match="'b'"):
        net.run(ask())
    assert net.now == pytest.approx(0.02)  # one round trip, not the 5 s timeout


def test_call_in_progress_when_the_destination_crashes_is_unreachable(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.01))
    a, _ = recorder(net, "a"), recorder(net, "b")

    async def ask() -> None:
        await a.call("b", Slow(60.0), timeout=100.0)

    asking = net.spawn(ask())
    net.run_for(1.0)
    net.crash("b")
    net.run_for(1.0)
    assert asking.done()
    with pytest.raises(Unreachable, match="crashed while handling"):
        asking.result()


def test_call_to_unknown_node_is_unreachable_at_once(make_sim: MakeSim) -> None:
    net = make_sim()
    a = net.add_node("a")
    with pytest.raises(Unreachable, match="no such node"):
        net.run(a.call("nobody", Echo("?")))
    with pytest.raises(Unreachable):
        a.send("nobody", Note(1))


# --- handlers ---------------------------------------------------------------------------


def test_rpc_returns_the_handlers_reply(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    assert net.run(a.call("b", Echo("hi"))) == Echoed("hi", "b")


def test_remote_handler_exception_comes_back_as_remote_error(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    with pytest.raises(RemoteError) as err:
        net.run(a.call("b", Boom("out of cheese")))
    assert (err.value.error_type, err.value.detail) == ("ValueError", "out of cheese")
    assert err.value.msg_type == "nettest.Boom"
    assert net.failures == []  # the caller got it; nothing was swallowed


def test_missing_handler_is_a_remote_error(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    with pytest.raises(RemoteError, match="NoHandler"):
        net.run(a.call("b", Unhandled()))


def test_failing_one_way_handler_is_recorded(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    a.send("b", Boom("quietly"))
    net.run_for(0.1)
    assert len(net.failures) == 1
    _, node, error = net.failures[0]
    assert node == "b" and "quietly" in error


def test_handler_that_suspends_replies_later(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.001))
    a, _ = recorder(net, "a"), recorder(net, "b")

    async def ask() -> float:
        await a.call("b", Slow(2.0), timeout=10.0)
        return net.now

    assert net.run(ask()) == pytest.approx(2.002)


def test_handler_reply_to_one_way_send_goes_back_to_sender(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = net.add_node("a"), recorder(net, "b")
    got: list[tuple[Echoed, str]] = []

    async def on_echoed(msg: Echoed, sender: str) -> None:
        got.append((msg, sender))

    a.on(Echoed, on_echoed)
    a.send("b", Echo("ping"))
    net.run_for(0.1)
    assert got == [(Echoed("ping", "b"), "b")]


class FanOut(Node):
    """Asks two peers at once under a deadline, the way a quorum coordinator does."""

    @handler
    async def on_echo(self, msg: Echo, sender: str) -> Echoed:
        assert asyncio.current_task() is not None
        async with asyncio.timeout(1.0):
            async with asyncio.TaskGroup() as group:
                first = group.create_task(self.call("b", msg))
                second = group.create_task(self.call("c", msg))
        return Echoed(first.result().by + second.result().by, self.node_id)


def test_handlers_run_in_real_tasks_so_taskgroup_and_timeout_work(make_sim: MakeSim) -> None:
    net = make_sim()
    net.add_node("coordinator", FanOut)
    recorder(net, "b"), recorder(net, "c")
    client = net.add_client("client")
    assert net.run(client.call("coordinator", Echo("x"))) == Echoed("bc", "coordinator")


def test_unserializable_message_fails_at_send_like_on_http(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    with pytest.raises(MessageEncodeError, match=r"nettest\.Note\.n: expected int"):
        a.send("b", Note("one"))  # type: ignore[arg-type]


def test_receiver_cannot_mutate_the_senders_message(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = recorder(net, "a"), recorder(net, "b")
    sent = Bag([1])
    reply = net.run(a.call("b", sent))
    assert sent.items == [1]
    assert reply.items == [1, 99]


def test_clients_are_not_listed_as_peers(make_sim: MakeSim) -> None:
    net = make_sim()
    a, _ = net.add_node("a"), net.add_node("b")
    net.add_client("harness")
    assert a.peers() == ("b",)


# --- running -----------------------------------------------------------------------------


def test_deadlock_is_reported_not_hung(make_sim: MakeSim) -> None:
    net = make_sim()
    net.add_node("a")

    async def wait_forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(SimDeadlock, match="deadlocked"):
        net.run(wait_forever())


def test_max_time_bounds_a_run_that_never_finishes(make_sim: MakeSim) -> None:
    net = make_sim()
    for i in range(3):
        net.add_node(f"n{i}", GossipNode)  # keeps the clock moving forever

    async def wait_forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(SimTimeLimit, match="max_time"):
        net.run(wait_forever(), max_time=5.0)
    assert net.now == pytest.approx(5.0)


def test_the_simulator_has_no_sockets(make_sim: MakeSim) -> None:
    net = make_sim()

    async def dial() -> None:
        await asyncio.open_connection("127.0.0.1", 80)

    with pytest.raises(NotImplementedError):
        net.run(dial())


class Inline(Node):
    """The same handlers as Recorder's, declared inline: no task until they wait."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.first_step_tasks: list[object] = []
        self.after_wait_tasks: list[object] = []
        self.unwound: list[float] = []

    @handler(inline=True)
    async def on_echo(self, msg: Echo, sender: str) -> Echoed:
        self.first_step_tasks.append(asyncio.current_task())
        return Echoed(msg.text, self.node_id)

    @handler(Slow, inline=True)
    async def on_slow(self, msg, sender):  # type: ignore[no-untyped-def]
        self.first_step_tasks.append(asyncio.current_task())
        try:
            await self.sleep(msg.seconds)
            self.after_wait_tasks.append(asyncio.current_task())
            await asyncio.sleep(0)  # a bare yield: resumed after what is ready now
        finally:
            self.unwound.append(msg.seconds)
        return Echoed(f"slept {msg.seconds}", self.node_id)

    @handler(Boom, inline=True)
    async def on_boom(self, msg, sender):  # type: ignore[no-untyped-def]
        raise ValueError(msg.why)

    @handler(Note, inline=True)
    async def on_note(self, msg, sender):  # type: ignore[no-untyped-def]
        await _yield_a_number()  # what no event loop could wait for


@types.coroutine
def _yield_a_number():  # type: ignore[no-untyped-def]
    yield 42


def test_inline_handler_answers_without_a_task(make_sim: MakeSim) -> None:
    net = make_sim()
    node = net.add_node("i", Inline)
    assert isinstance(node, Inline)
    client = net.add_client("client")
    assert net.run(client.call("i", Echo("x"))) == Echoed("x", "i")
    assert node.first_step_tasks == [None]


def test_inline_handler_that_waits_is_resumed_by_callbacks_not_a_task(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.001))
    node = net.add_node("i", Inline)
    assert isinstance(node, Inline)
    client = net.add_client("client")

    async def ask() -> tuple[Echoed, float]:
        reply = await client.call("i", Slow(0.5))
        return reply, net.now

    reply, when = net.run(ask())
    assert reply == Echoed("slept 0.5", "i")
    assert when == pytest.approx(0.502)
    # The §5 state machine: no task before or after the wait, yet it answered.
    assert node.first_step_tasks == [None] and node.after_wait_tasks == [None]
    assert node.unwound == [0.5]


def test_inline_handler_errors_and_crashes_look_like_any_handlers(make_sim: MakeSim) -> None:
    net = make_sim()
    node = net.add_node("i", Inline)
    assert isinstance(node, Inline)
    client = net.add_client("client")
    with pytest.raises(RemoteError, match="ValueError"):
        net.run(client.call("i", Boom("no")))
    with pytest.raises(RemoteError, match="Note yielded 42, not a future"):
        net.run(client.call("i", Note(1)))

    async def crash_midway() -> None:
        waiting = asyncio.ensure_future(client.call("i", Slow(1.0), timeout=5.0))
        await asyncio.sleep(0.1)
        net.crash("i")
        await waiting

    with pytest.raises(Unreachable, match="crashed while handling"):
        net.run(crash_midway())
    assert node.unwound == [1.0]  # its finally ran, as a cancelled task's would


def test_call_then_reports_replies_and_failures_like_call(make_sim: MakeSim) -> None:
    net = make_sim()
    recorder(net, "b")
    net.add_node("down")
    net.crash("down")
    a = net.add_node("a")
    got: dict[str, tuple[object, str]] = {}

    def keep(name: str) -> Callable[[object, BaseException | None], None]:
        return lambda reply, error: got.__setitem__(name, (reply, type(error).__name__))

    a.call_then("b", Echo("hi"), keep("reply"))
    a.call_then("b", Boom("no"), keep("remote"))
    a.call_then("b", Slow(2.0), keep("timeout"), timeout=0.5)
    a.call_then("down", Echo("hi"), keep("down"))
    a.call_then("nobody", Echo("hi"), keep("unknown"))
    net.run_for(3.0)
    assert got == {
        "reply": (Echoed("hi", "b"), "NoneType"),
        "remote": (None, "RemoteError"),
        "timeout": (None, "RpcTimeout"),
        "down": (None, "Unreachable"),
        "unknown": (None, "Unreachable"),
    }


def test_call_then_never_calls_back_into_a_crashed_node(make_sim: MakeSim) -> None:
    net = make_sim()
    recorder(net, "b")
    a = net.add_node("a")
    got: list[object] = []
    a.call_then("b", Slow(0.1), lambda reply, error: got.append(reply))
    a.call_then("b", Slow(5.0), lambda reply, error: got.append(error), timeout=0.5)
    net.run_for(0.01)
    net.crash("a")
    net.run_for(6.0)
    assert got == []


def test_timeouts_still_fire_at_their_deadline_among_answered_calls(make_sim: MakeSim) -> None:
    net = make_sim(latency=Constant(0.001))
    recorder(net, "b")
    client = net.add_client("client")

    async def mixed() -> float:
        for _ in range(50):  # answered calls queue up ahead of the slow one's deadline
            await client.call("b", Echo("x"), timeout=0.3)
        start = net.now
        with pytest.raises(RpcTimeout):
            await client.call("b", Slow(1.0), timeout=0.3)
        return net.now - start

    assert net.run(mixed()) == pytest.approx(0.3)
