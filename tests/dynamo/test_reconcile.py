"""Reconciliation: merge hooks and the last-write-wins mode (Dynamo §4.4, §6)."""

from __future__ import annotations

import pytest

from minisys.dynamo.reconcile import cart_union, context_of, lww_update, merge_values, update
from minisys.dynamo.vclock import VClock


def test_shopping_cart_merge_hook_unions_siblings():
    assert cart_union([b"milk,eggs", b"milk,bread"]) == b"bread,eggs,milk"
    assert merge_values([b"x"]) == b"x"


def test_siblings_without_a_merge_hook_are_an_error_not_a_silent_pick():
    with pytest.raises(ValueError, match="2 siblings"):
        merge_values([b"a", b"b"])


def test_last_write_wins_keeps_only_the_newest_timestamp_and_loses_the_other_write():
    base, _ = lww_update([], VClock(), b"v0", "A", 1.0)
    ctx = context_of(base)
    one, _ = lww_update(base, ctx, b"alice", "A", 2.0)
    two, _ = lww_update(one, ctx, b"bob", "B", 1.5)  # a skewed clock: bob's write is "older"
    assert [s.value for s in two] == [b"alice"]     # bob's acknowledged write is gone


def test_vector_clock_mode_keeps_the_same_two_writes():
    base, _ = update([], VClock(), b"v0", "A", 1.0)
    ctx = context_of(base)
    one, _ = update(base, ctx, b"alice", "A", 2.0)
    two, _ = update(one, ctx, b"bob", "B", 1.5)
    assert sorted(s.value for s in two) == [b"alice", b"bob"]


def test_decoding_a_version_again_gives_an_equal_sibling_and_never_a_stale_one() -> None:
    from minisys.dynamo.reconcile import Sibling, from_plain, to_plain
    from minisys.dynamo.vclock import Dot, VClock

    original = Sibling(b"milk", Dot("Sx", 7, 1.5), VClock.of(Sy=2))
    plain = to_plain([original])
    again = from_plain([list(p) for p in plain])  # a copy, as a network would deliver
    assert again == [original] and again[0].to_plain() == plain[0]
    # Same dot, different data (only a buggy or hostile peer sends this): decoded as sent.
    forged = [[b"beer", "Sx", 7, 1.5, [["Sy", 2, 0.0]]]]
    assert from_plain(forged)[0].value == b"beer"
    assert from_plain(plain)[0].value == b"milk"
