"""Consistent hashing, preference lists and the three partitioning strategies (Dynamo §4.2, §4.3, §6.2)."""

from __future__ import annotations

import random

import pytest

from minisys.dynamo import ring as R

NODES = [f"n{i}" for i in range(8)]
KEYS = [f"key{i}" for i in range(3000)]


def test_key_position_is_the_128_bit_md5_of_the_key():
    import hashlib

    assert R.position("cart") == int(hashlib.md5(b"cart").hexdigest(), 16)
    assert R.position("cart") < 2**128


@pytest.mark.parametrize("strategy", [1, 2, 3])
def test_preference_list_has_n_distinct_physical_nodes_then_the_rest_as_fallbacks(strategy):
    ring = R.build(strategy, NODES, tokens_per_node=8, q=64, rng=random.Random(1))
    for key in KEYS[:300]:
        full = ring.preference_list(key)
        assert len(full) == len(NODES) and len(set(full)) == len(NODES)
        assert ring.preference_list(key, 3) == full[:3]


@pytest.mark.parametrize("strategy", [1, 2, 3])
def test_every_node_computes_the_same_preference_list_from_the_same_tokens(strategy):
    a = R.build(strategy, NODES, rng=random.Random(5))
    b = R.Ring(dict(reversed(list(a.token_map().items()))), strategy=strategy, partitions=a.partitions)
    assert all(a.preference_list(k, 3) == b.preference_list(k, 3) for k in KEYS[:200])


def test_strategy1_key_belongs_to_first_token_clockwise():
    ring = R.Ring({100: "a", 2**127: "b", 2**128 - 5: "c"}, strategy=1)
    tokens = sorted(ring.token_map())
    for key in KEYS[:200]:
        pos = R.position(key)
        owner_token = next((t for t in tokens if t >= pos), tokens[0])
        assert ring.preference_list(key, 1) == (ring.token_map()[owner_token],)


def test_strategy1_successors_replicate_a_coordinators_range_like_figure_2():
    # Fig. 2: node D stores (A,B], (B,C], (C,D] -- it is in the top 3 of the ranges ending at B, C, D.
    tokens = {10: "A", 20: "B", 30: "C", 40: "D", 50: "E", 60: "F", 70: "G"}
    ring = R.Ring(tokens, strategy=1)
    held = {r for r in ring.ranges_replicated_by("D", 3)}
    assert held == {f"t{R.token_hex(t)}" for t in (20, 30, 40)}


def test_strategy2_and_3_use_q_equal_partitions():
    for strategy in (2, 3):
        ring = R.build(strategy, NODES, q=64, rng=random.Random(2))
        assert len(ring.range_names()) == 64
        assert {ring.range_size(i) for i in range(64)} == {R.RING_SIZE // 64}


def test_strategy3_gives_each_node_q_over_s_tokens():
    ring = R.strategy3(NODES, 64, random.Random(3))
    assert sorted(len(ring.tokens_of(n)) for n in NODES) == [8] * 8


def test_strategy3_join_steals_tokens_and_moves_only_whole_partitions():
    rng = random.Random(4)
    before = R.strategy3(NODES, 64, rng)
    moved = R.steal_tokens(before.token_map(), "new", rng)
    after = R.Ring(before.token_map() | moved, strategy=3, partitions=64)
    assert len(after.tokens_of("new")) == 64 // 9
    changed = [k for k in KEYS if before.preference_list(k, 3) != after.preference_list(k, 3)]
    assert all("new" in after.preference_list(k, 3) for k in changed)
    # Partitions are the unit of movement: keys of one partition move together.
    by_part: dict[str, set[bool]] = {}
    for k in KEYS:
        by_part.setdefault(after.range_of(k), set()).add(k in changed)
    assert all(len(v) == 1 for v in by_part.values())


def test_strategy3_leave_redistributes_the_leavers_tokens():
    rng = random.Random(6)
    before = R.strategy3(NODES, 64, rng)
    moved = R.redistribute_tokens(before.token_map(), "n0", rng)
    after = R.Ring(before.token_map() | moved, strategy=3, partitions=64)
    assert "n0" not in after.nodes
    assert max(len(after.tokens_of(n)) for n in after.nodes) - min(len(after.tokens_of(n)) for n in after.nodes) <= 1


def test_strategy1_join_only_moves_keys_to_the_joiner():
    rng = random.Random(7)
    before = R.strategy1(NODES, 8, rng)
    after = R.Ring(before.token_map() | R.random_tokens(["new"], 8, rng), strategy=1)
    for k in KEYS:
        old, new = before.preference_list(k, 3), after.preference_list(k, 3)
        if old != new:
            assert "new" in new and set(new) - {"new"} <= set(old)


def test_strategy3_balances_load_better_than_strategy1_with_few_tokens():
    keys = [f"user{i}" for i in range(20000)]
    s1 = R.load_imbalance(R.strategy1(NODES, 2, random.Random(8)), keys, 3)
    s3 = R.load_imbalance(R.strategy3(NODES, 64, random.Random(8)), keys, 3)
    assert s3 < s1


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="1, 2 or 3"):
        R.build(4, NODES, rng=random.Random(0))
