"""The check budget: how many accepted batches a worker reads back, whatever happens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from csroute.router.checks import BURST, CheckBudget


def test_the_first_batch_then_one_in_every_is_checked_while_all_goes_well() -> None:
    budget = CheckBudget(every=4)
    checked = [n for n in range(20) if budget.after_batch()]
    assert checked == [0, 4, 8, 12, 16]


def test_after_a_failed_job_the_burst_is_spent_then_one_in_every() -> None:
    budget = CheckBudget(every=4)
    for _ in range(8):  # the budget refills to full meanwhile (first check at 0, then at 4)
        budget.after_batch()
    budget.found(failed=True)
    checked = [n for n in range(12) if budget.after_batch()]
    assert checked[:2] == [0, 1]  # the rest of the burst at once
    assert len(checked) <= BURST + 12 // 4
    budget.found(failed=False)
    assert not budget.after_batch()  # back to waiting for a full budget


def test_zero_never_checks() -> None:
    budget = CheckBudget(every=0)
    assert not any(budget.after_batch() for _ in range(100))
    assert not budget.again()


@given(st.integers(1, 60), st.lists(st.sampled_from(["batch", "again", "fail", "ok"])))
def test_checks_never_exceed_the_burst_plus_one_in_every(every: int, steps: list[str]) -> None:
    budget = CheckBudget(every)
    batches = checks = 0
    for step in steps:
        if step == "batch":
            batches += 1
            checks += budget.after_batch()
        elif step == "again":
            checks += budget.again()
        else:
            budget.found(step == "fail")
        assert checks * every <= BURST * every + batches
