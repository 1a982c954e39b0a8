"""No lost writes, convergence, session guarantees, sets and counters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.consistency.convergence import check_convergence, check_final_reads_agree
from minisys.consistency.lost_writes import check_no_lost_writes
from minisys.consistency.sessions import check_monotonic_reads, check_read_your_writes
from minisys.consistency.sets import check_counter, check_set

from .helpers import hist

# --- no lost acknowledged writes (ec_eqc must/may) ------------------------------

def test_concurrent_blind_writes_must_both_survive_as_siblings():
    base = ["0 invoke put k 1", "1 invoke put k 2", "0 ok put k 1", "1 ok put k 2", "2 invoke read k None final"]
    assert check_no_lost_writes(hist(*base, "2 ok read k [1, 2] final")).valid is True
    lost = check_no_lost_writes(hist(*base, "2 ok read k [2] final"))
    assert lost.valid is False
    assert [op.value for op in lost.offending] == [1]


def test_a_write_superseded_by_one_that_read_it_is_not_lost():
    h = hist("0 invoke put k 1", "0 ok put k 1", "1 invoke put k 2 ctx=[1]", "1 ok put k 2",
             "2 invoke read k None final", "2 ok read k [2] final")
    assert check_no_lost_writes(h).valid is True


def test_indefinite_and_failed_writes_are_never_counted_lost():
    h = hist("0 invoke put k 1", "0 info put k 1", "1 invoke put k 2", "1 fail put k 2",
             "3 invoke put k 3", "3 ok put k 3", "2 invoke read k None final", "2 ok read k [3] final")
    assert check_no_lost_writes(h).valid is True


def test_an_indefinite_write_that_read_a_value_may_have_superseded_it():
    h = hist("0 invoke put k 1", "0 ok put k 1", "1 invoke put k 2 ctx=[1]", "1 info put k 2",
             "2 invoke read k None final", "2 ok read k None final")
    assert check_no_lost_writes(h).valid is True


def test_without_final_reads_lost_writes_are_unknown():
    assert check_no_lost_writes(hist("0 invoke put k 1", "0 ok put k 1")).valid is None


def test_final_state_can_be_given_directly():
    h = hist("0 invoke put k 1", "0 ok put k 1")
    assert check_no_lost_writes(h, final={"k": [1]}).valid is True
    assert check_no_lost_writes(h, final={"k": []}).valid is False


# --- convergence ------------------------------------------------------------------

def test_replicas_that_agree_have_converged_sibling_order_aside():
    assert check_convergence({"k": {"a": [1, 2], "b": [2, 1], "c": [1, 2]}}).valid is True


def test_replicas_that_differ_after_quiescence_have_not_converged():
    r = check_convergence({"k": {"a": [1, 2], "b": [1]}, "j": {"a": 3, "b": 3}})
    assert r.valid is False and r.details["diverged"] == 1 and "'k'" in r.summary


def test_final_reads_through_different_nodes_must_agree():
    ok = hist("0 invoke read k None final", "0 ok read k [1] final node=a",
              "1 invoke read k None final", "1 ok read k [1] final node=b")
    bad = hist("0 invoke read k None final", "0 ok read k [1] final node=a",
               "1 invoke read k None final", "1 ok read k [1, 2] final node=b")
    assert check_final_reads_agree(ok).valid is True
    assert check_final_reads_agree(bad).valid is False


# --- session guarantees ------------------------------------------------------------

def test_read_your_writes_holds_when_the_session_sees_its_write_or_a_newer_one():
    h = hist("0 invoke write k 1", "0 ok write k 1", "0 invoke read k None", "0 ok read k 1",
             "1 invoke write k 2", "1 ok write k 2", "0 invoke read k None", "0 ok read k 2")
    assert check_read_your_writes(h).valid is True


def test_read_your_writes_is_violated_by_a_read_missing_the_sessions_write():
    h = hist("0 invoke write k 1", "0 ok write k 1", "0 invoke write k 2", "0 ok write k 2",
             "0 invoke read k None", "0 ok read k 1")
    r = check_read_your_writes(h)
    assert r.valid is False and [o.f for o in r.offending] == ["write", "read"]


def test_monotonic_reads_violated_when_a_session_goes_back_in_time():
    h = hist("1 invoke write k 1", "1 ok write k 1", "1 invoke write k 2", "1 ok write k 2",
             "0 invoke read k None", "0 ok read k 2", "0 invoke read k None", "0 ok read k 1")
    assert check_monotonic_reads(h).valid is False
    fine = hist("1 invoke write k 1", "1 ok write k 1", "1 invoke write k 2", "1 ok write k 2",
                "0 invoke read k None", "0 ok read k 1", "0 invoke read k None", "0 ok read k 2")
    assert check_monotonic_reads(fine).valid is True


def test_concurrent_sibling_writes_are_not_ordered_by_real_time_in_context_order():
    # 1 then 2 blind (concurrent in vector-clock terms): seeing {2} then {1, 2} is fine.
    h = hist("1 invoke put k 1", "1 ok put k 1", "1 invoke put k 2", "1 ok put k 2",
             "0 invoke read k None", "0 ok read k [2]", "0 invoke read k None", "0 ok read k [1, 2]")
    assert check_monotonic_reads(h, order="context", siblings=True).valid is True
    # 3 read 2, so 3 is newer: seeing {3} then {2} goes back in time.
    h2 = hist("1 invoke put k 2", "1 ok put k 2", "1 invoke put k 3 ctx=[2]", "1 ok put k 3",
              "0 invoke read k None", "0 ok read k [3]", "0 invoke read k None", "0 ok read k [2]")
    assert check_monotonic_reads(h2, order="context", siblings=True).valid is False


# --- sets and counters ------------------------------------------------------------

def test_set_accounts_for_every_acknowledged_add():
    base = ["0 invoke add s 1", "0 ok add s 1", "1 invoke add s 2", "1 info add s 2", "2 invoke read s None final"]
    assert check_set(hist(*base, "2 ok read s [1] final")).valid is True
    assert check_set(hist(*base, "2 ok read s [1, 2] final")).valid is True
    lost = check_set(hist(*base, "2 ok read s [2] final"))
    assert lost.valid is False and lost.details["lost"] == 1
    extra = check_set(hist(*base, "2 ok read s [1, 9] final"))
    assert extra.valid is False and extra.details["unexpected"] == 1


def test_counter_final_value_must_lie_within_what_the_increments_allow():
    base = ["0 invoke add c 5", "0 ok add c 5", "1 invoke add c 3", "1 info add c 3", "2 invoke read c None final"]
    assert check_counter(hist(*base, "2 ok read c 5 final")).valid is True
    assert check_counter(hist(*base, "2 ok read c 8 final")).valid is True
    assert check_counter(hist(*base, "2 ok read c 4 final")).valid is False
    assert check_counter(hist(*base, "2 ok read c 9 final")).valid is False


def test_read_your_writes_accepts_a_concurrent_writers_value():
    # p1's write of 6 overlaps p0's write of 5, so it may be ordered after it.
    h = hist("0 invoke write k 5", "1 invoke write k 6", "0 ok write k 5", "1 ok write k 6",
             "0 invoke read k None", "0 ok read k 6")
    assert check_read_your_writes(h).valid is True


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_linearizable_histories_never_violate_session_guarantees(seed):
    from minisys.consistency.linearizability import check_linearizable
    from minisys.consistency.reference import linearizable_history

    ops = linearizable_history(300, seed, processes=4, keys=2)
    assert check_linearizable(ops, "cas-register").valid is True
    assert check_read_your_writes(ops).valid is not False
    assert check_monotonic_reads(ops).valid is not False
