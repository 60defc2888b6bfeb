"""Which accepted batches to check, so that checks cost a small, bounded share of requests.

A destination whose batches may fail job by job after being accepted (Custify's asynchronous
``POST /batch``) is checked on a budget: each accepted batch earns ``1/every`` of a check, the
budget holds at most ``BURST`` checks, and starts full. While the last check found every job
through, a batch is checked only when the budget is full: the first batch, then one in
``every``. Once a check finds a failed job, the following batches are checked as long as the
budget lasts (the burst, then one in ``every``), until a check finds none failed. A batch still
running when checked is checked again only from the same budget. So a worker never makes more
than ``BURST + batches / every`` checks.
"""

from __future__ import annotations

from typing import Final

BURST: Final = 3
"""Checks the budget holds: spent at once after a check finds failed jobs."""


class CheckBudget:
    """The check budget of one worker; counted in ``1/every`` of a check, as whole numbers."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.full = BURST * every
        self.tokens = self.full
        self.suspect = False  # the last check found a failed job

    def after_batch(self) -> bool:
        """A batch was accepted: whether to check it."""
        if not self.every:
            return False
        self.tokens = min(self.full, self.tokens + 1)
        if self.tokens >= (self.every if self.suspect else self.full):
            self.tokens -= self.every
            return True
        return False

    def again(self) -> bool:
        """A batch must be checked once more (still running, or the check failed): whether
        the budget allows it now."""
        if self.every and self.tokens >= self.every:
            self.tokens -= self.every
            return True
        return False

    def found(self, failed: bool) -> None:
        """What the last check found: whether any job failed."""
        self.suspect = failed
