"""Vector clocks and dotted versions (Dynamo §4.4)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.dynamo.reconcile import Sibling, context_of, sync, update
from minisys.dynamo.vclock import Dot, VClock

clocks = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 5)).map(lambda d: VClock.of(**d))


def test_paper_figure_3_version_evolution():
    d1 = VClock.of(Sx=1)
    d2 = d1.increment("Sx", 0)
    d3 = d2.increment("Sy", 0)
    d4 = d2.increment("Sz", 0)
    assert d2.descends(d1) and not d1.descends(d2)
    assert d3.concurrent(d4)
    context = d3.merge(d4)
    assert context == VClock.of(Sx=2, Sy=1, Sz=1)
    d5 = context.increment("Sx", 0)
    assert d5 == VClock.of(Sx=3, Sy=1, Sz=1)
    assert d5.descends(d3) and d5.descends(d4)


@given(clocks, clocks, clocks)
def test_merge_is_a_join(a, b, c):
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(b).descends(a) and a.merge(b).descends(b)


@given(clocks, clocks, clocks)
def test_descends_is_a_partial_order(a, b, c):
    assert a.descends(a)
    if a.descends(b) and b.descends(a):
        assert a == b
    if a.descends(b) and b.descends(c):
        assert a.descends(c)


def test_truncation_drops_the_oldest_entry_by_timestamp():
    clock = VClock({f"n{i}": (1, float(i)) for i in range(12)})
    cut = clock.truncate(10)
    assert len(cut) == 10
    assert cut.nodes() == sorted(f"n{i}" for i in range(2, 12))


def test_truncation_can_turn_a_descendant_into_a_false_conflict():
    old = VClock({f"n{i}": (1, float(i)) for i in range(10)})
    newer = old.merge(VClock({"late": (1, 100.0)})).truncate(10)
    assert not newer.descends(old)  # n0 was dropped: the ancestry is no longer visible
    assert newer.concurrent(old)


def test_concurrent_writes_through_one_coordinator_with_the_same_stale_context_both_survive():
    base, first = update([], VClock(), b"v0", "A", 1.0)
    stale = context_of(base)
    after_one, w1 = update(base, stale, b"alice", "A", 2.0)
    after_two, w2 = update(after_one, stale, b"bob", "A", 3.0)
    assert sorted(s.value for s in after_two) == [b"alice", b"bob"]
    assert w1.dot != w2.dot
    # A reader sees both; a write with that context supersedes both.
    final, _ = update(after_two, context_of(after_two), b"alice+bob", "B", 4.0)
    assert [s.value for s in final] == [b"alice+bob"]


def test_plain_server_id_clocks_would_lose_that_write():
    # The pitfall DVVs avoid: with clock = context + increment, bob's write looks newer than alice's.
    stale = VClock.of(A=1)
    alice = stale.increment("A", 0)
    bob = alice.merge(stale).increment("A", 0)
    assert bob.descends(alice)  # server-id clocks would discard alice's value


@st.composite
def histories(draw):
    """Three replicas' sibling lists drawn from one history: a dot always has the same past."""
    events: dict[tuple[str, int], Sibling] = {}
    for c in range(1, 5):
        for node in ("a", "b", "c"):
            past = events[(node, c - 1)].version() if c > 1 else VClock()
            seen = draw(st.lists(st.sampled_from(sorted(events)), max_size=2)) if events else []
            for k in seen:  # causal pasts are closed: seeing an event means seeing its past too
                past = past.merge(events[k].version())
            events[(node, c)] = Sibling(f"{node}{c}".encode(), Dot(node, c), past)
    keys = sorted(events)
    pick = st.lists(st.sampled_from(keys), max_size=5, unique=True).map(lambda ks: [events[k] for k in ks])
    return draw(pick), draw(pick), draw(pick)


@settings(max_examples=200)
@given(histories())
def test_sync_is_commutative_associative_and_idempotent(lists):
    x, y, z = lists
    # Replicas converge whatever order repairs arrive in.
    def norm(s):
        return sorted((v.dot.node, v.dot.counter) for v in s)

    assert norm(sync(x, y)) == norm(sync(y, x))
    assert norm(sync(sync(x, y), z)) == norm(sync(x, sync(y, z)))
    assert norm(sync(x, x)) == norm(sync(x))


@given(histories())
def test_get_context_subsumes_every_returned_sibling(lists):
    sibs = sync(*lists)
    ctx = context_of(sibs)
    assert all(ctx.contains(s.dot) and ctx.descends(s.past) for s in sibs)
