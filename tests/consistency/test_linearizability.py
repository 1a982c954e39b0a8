"""The linearizability checker on hand-written histories, both verdicts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.consistency.history import INFINITY, Operation
from minisys.consistency.linearizability import check_linearizable, wgl
from minisys.consistency.models import CAS_REGISTER, KV_MODEL, REGISTER
from minisys.consistency.reference import brute_force_linearizable

from .helpers import hist, ops


def test_sequential_write_then_read_is_linearizable():
    h = hist("0 invoke write 1", "0 ok write 1", "1 invoke read None", "1 ok read 1")
    assert check_linearizable(h, "register").valid is True


def test_stale_read_after_acknowledged_write_is_not_linearizable():
    h = hist("0 invoke write 1", "0 ok write 1", "1 invoke read None", "1 ok read None")
    r = check_linearizable(h, "register")
    assert r.valid is False
    assert [op.f for op in r.offending] == ["write", "read"]


def test_read_concurrent_with_a_write_may_see_either_value():
    old = hist("0 invoke write 1", "1 invoke read None", "1 ok read None", "0 ok write 1")
    new = hist("0 invoke write 1", "1 invoke read None", "1 ok read 1", "0 ok write 1")
    assert check_linearizable(old).valid is True
    assert check_linearizable(new).valid is True


def test_reads_cannot_flip_flop_between_concurrent_values():
    # Two overlapping reads by other processes may not see 1 then the older 0 after it
    # in real time: once a later-starting read saw the new value, no read after it sees the old.
    h = hist(
        "0 invoke write 0", "0 ok write 0",
        "0 invoke write 1",
        "1 invoke read None", "1 ok read 1",
        "2 invoke read None", "2 ok read 0",
        "0 ok write 1",
    )
    assert check_linearizable(h).valid is False


def test_indefinite_write_may_have_taken_effect():
    h = hist("0 invoke write 1", "0 info write 1", "1 invoke read None", "1 ok read 1")
    assert check_linearizable(h).valid is True


def test_indefinite_write_may_never_take_effect():
    h = hist("0 invoke write 1", "0 info write 1", "1 invoke read None", "1 ok read None",
             "1 invoke read None", "1 ok read None")
    assert check_linearizable(h).valid is True


def test_indefinite_write_cannot_take_effect_before_it_was_invoked():
    h = hist("1 invoke read None", "1 ok read 1", "0 invoke write 1", "0 info write 1")
    assert check_linearizable(h).valid is False


def test_indefinite_write_once_seen_cannot_be_unseen():
    h = hist("0 invoke write 1", "0 info write 1", "1 invoke read None", "1 ok read 1",
             "1 invoke read None", "1 ok read None")
    assert check_linearizable(h).valid is False


def test_invoke_without_completion_is_treated_as_indefinite():
    h = hist("1 invoke write 7", "2 invoke read None", "2 ok read 7")
    (w, _r) = h.operations()
    assert w.status == "info" and w.ret == INFINITY
    assert check_linearizable(h).valid is True


def test_failed_write_never_took_effect():
    h = hist("0 invoke write 1", "0 fail write 1", "1 invoke read None", "1 ok read 1")
    assert check_linearizable(h).valid is False


def test_cas_succeeds_only_from_the_expected_value():
    good = hist("0 invoke write 1", "0 ok write 1", "0 invoke cas [1, 2]", "0 ok cas [1, 2]",
                "1 invoke read None", "1 ok read 2")
    bad = hist("0 invoke write 1", "0 ok write 1", "0 invoke cas [3, 2]", "0 ok cas [3, 2]",
               "1 invoke read None", "1 ok read 2")
    assert check_linearizable(good, "cas-register").valid is True
    assert check_linearizable(bad, "cas-register").valid is False


def test_two_successful_cas_from_the_same_value_are_not_linearizable():
    h = hist("0 invoke write 0", "0 ok write 0",
             "1 invoke cas [0, 1]", "2 invoke cas [0, 2]", "1 ok cas [0, 1]", "2 ok cas [0, 2]")
    assert check_linearizable(h, "cas-register").valid is False


def test_indefinite_cas_may_or_may_not_have_applied():
    applied = hist("0 invoke write 0", "0 ok write 0", "1 invoke cas [0, 1]", "1 info cas [0, 1]",
                   "2 invoke read None", "2 ok read 1")
    not_applied = hist("0 invoke write 0", "0 ok write 0", "1 invoke cas [0, 1]", "1 info cas [0, 1]",
                       "2 invoke read None", "2 ok read 0")
    assert check_linearizable(applied, "cas-register").valid is True
    assert check_linearizable(not_applied, "cas-register").valid is True


def test_register_model_rejects_cas_with_a_clear_error():
    import pytest

    from minisys.errors import BadInput

    with pytest.raises(BadInput, match="no operation 'cas'.*line 1"):
        check_linearizable(hist("0 invoke cas [0, 1]", "0 ok cas [0, 1]"), "register")


def test_kv_append_reads_return_the_list_in_append_order():
    good = hist("0 invoke append x 1", "0 ok append x 1", "1 invoke append x 2", "1 ok append x 2",
                "2 invoke read x None", "2 ok read x [1, 2]")
    bad = hist("0 invoke append x 1", "0 ok append x 1", "1 invoke append x 2", "1 ok append x 2",
               "2 invoke read x None", "2 ok read x [2, 1]")
    assert check_linearizable(good, "kv").valid is True
    assert check_linearizable(bad, "kv").valid is False


def test_keys_are_checked_independently():
    # Per key fine; a single register over both keys would not be.
    h = hist("0 invoke write x 1", "0 ok write x 1", "1 invoke write y 2", "1 ok write y 2",
             "2 invoke read x None", "2 ok read x 1", "2 invoke read y None", "2 ok read y 2")
    r = check_linearizable(h, "kv")
    assert r.valid is True and r.details["keys"] == 2
    h2 = hist("0 invoke write x 1", "0 ok write x 1", "1 invoke write y 2", "1 ok write y 2",
              "2 invoke read y None", "2 ok read y 1")
    bad = check_linearizable(h2, "kv")
    assert bad.valid is False and bad.details["key"] == "y"


def _concurrent_writes(n: int) -> list[Operation]:
    """n fully concurrent writes of distinct values, then a read of an impossible value."""
    out = [Operation(i, i, "write", None, i, None, "ok", 0.0, 10.0) for i in range(n)]
    out.append(Operation(n, n, "read", None, None, -1, "ok", 11.0, 12.0))
    return out


def test_memoisation_of_visited_configurations_prunes_the_search():
    h = _concurrent_writes(7)
    with_cache = wgl(h, REGISTER, cache=True)
    without = wgl(h, REGISTER, cache=False)
    assert with_cache.valid is False and without.valid is False
    assert with_cache.steps * 10 < without.steps


def test_timeout_gives_unknown_never_a_verdict():
    r = check_linearizable(_concurrent_writes(60), "register", timeout=0.0)
    assert r.valid is None and r.verdict == "unknown"


def test_explanation_is_shrunk_to_the_offending_operations():
    lines = []
    for i in range(30):  # a long, healthy prefix by two processes
        lines += [f"0 invoke write {i}", f"0 ok write {i}", "1 invoke read None", f"1 ok read {i}"]
    lines += ["0 invoke write 100", "0 ok write 100", "1 invoke read None", "1 ok read 29"]
    r = check_linearizable(hist(*lines), "register")
    assert r.valid is False
    definite = [op for op in r.offending if op.status == "ok"]
    assert [(op.f, op.value if op.f == "write" else op.output) for op in definite] == [("write", 29), ("write", 100), ("read", 29)]
    assert "write 100" in r.explain() and "read → 29" in r.explain()


# --- the checker agrees with the definition ------------------------------------

@st.composite
def small_histories(draw):
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        call = draw(st.integers(0, 10))
        dur = draw(st.integers(1, 6))
        f = draw(st.sampled_from(["read", "write", "cas"]))
        status = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
        value = draw(st.integers(0, 2))
        value = (value, draw(st.integers(0, 2))) if f == "cas" else value
        output = draw(st.sampled_from([None, 0, 1, 2])) if f == "read" else None
        ret = INFINITY if status == "info" else float(call + dur)
        out.append(Operation(i, i, f, None, value, output, status, float(call), ret))
    return out


@settings(max_examples=400, deadline=None)
@given(small_histories())
def test_checker_verdict_equals_the_brute_force_definition(history):
    fast = wgl([op for op in history if op.status != "fail" and not (op.indefinite and op.f == "read")], CAS_REGISTER)
    assert fast.valid == brute_force_linearizable(history, CAS_REGISTER)


@settings(max_examples=150, deadline=None)
@given(small_histories())
def test_the_checker_never_calls_a_non_linearizable_history_linearizable(history):
    r = check_linearizable(history, CAS_REGISTER)
    if not brute_force_linearizable(history, CAS_REGISTER):
        assert r.valid is False
        # ...and the shrunk explanation is itself non-linearizable by the definition.
        assert not brute_force_linearizable(r.offending, CAS_REGISTER)


def test_kv_model_treats_an_absent_list_as_empty():
    assert check_linearizable(ops("0 invoke read x None", "0 ok read x []"), KV_MODEL).valid is True


def test_a_stale_read_in_a_10k_history_is_explained_by_three_operations():
    import dataclasses

    from minisys.consistency.reference import linearizable_history

    history = linearizable_history(10_000, 3)
    assert check_linearizable(history, "cas-register").valid is True
    reads = [o for o in history if o.f == "read" and o.status == "ok"]
    stale = reads[len(reads) // 2]
    first = next(o for o in history if o.f == "write" and o.key == stale.key and o.status == "ok")
    broken = [dataclasses.replace(o, output=first.value) if o is stale else o for o in history]
    r = check_linearizable(broken, "cas-register")
    assert r.valid is False
    assert len(r.offending) == 3 and r.offending[-1].id == stale.id
    assert r.offending[0].id == first.id  # the write it saw, then a later write it missed
