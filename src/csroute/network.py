"""The one way a failed network call is described to a person.

Every client in csroute (the Custify client and CLI, ``csroute send``) words a call that got
no HTTP answer alike: the method, the full URL, the cause in plain words (the operating
system's reason, not an exception class), and how many attempts were made, so an operator
sees at once what was called, why it failed and that retries already happened.
"""

from __future__ import annotations

import os


def failure_message(method: str, url: str, error: BaseException, attempts: int) -> str:
    """``GET https://host/path: cannot connect (Connection refused); gave up after 2 attempts``."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    return f"{method} {url}: {cause_of(error)}; gave up after {tries}"


def cause_of(error: BaseException) -> str:
    """The plain reason behind ``error``: the first operating-system reason in its chain."""
    seen: BaseException | None = error
    for _ in range(8):  # exception chains are short; this only guards against loops
        if seen is None:
            break
        if isinstance(seen, TimeoutError) or "Timeout" in type(seen).__name__:
            return "no answer in time (timed out)"
        for candidate in (getattr(seen, "os_error", None), seen):
            if isinstance(candidate, OSError) and (candidate.errno or candidate.strerror):
                # The errno's own words: asyncio's strerror is "Connect call failed (...)".
                reason = os.strerror(candidate.errno) if candidate.errno else candidate.strerror
                return f"cannot connect ({reason})"
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
