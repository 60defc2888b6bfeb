"""ISO-8601 timestamps as events carry them: parsed leniently, written in one canonical form.

Clients send every flavour of ISO-8601 (``Z`` or ``+02:00``, 0 to 9 fractional digits, a bare
date); ``datetime.fromisoformat`` accepts them all and is implemented in C, which matters on the
ingestion hot path. A timestamp without an offset is taken as UTC, as Segment does. What
csroute writes (``receivedAt``, corrected ``timestamp``) is always UTC with milliseconds and a
``Z``, the form Segment itself emits, so destinations see one format.

The gateway computes in integer milliseconds since the epoch: clock-skew correction is then
integer arithmetic, and writing a timestamp reuses the text of its second, cached, because
``datetime.replace`` and ``isoformat`` each cost about a microsecond and every event needs two
timestamps written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_FRACTIONS: Final = tuple(f".{n:03d}Z" for n in range(1000))
_SECONDS_CACHED: Final = 4096
_seconds: dict[int, str] = {}  # epoch second -> "YYYY-MM-DDTHH:MM:SS"


def parse_ms(value: str) -> int | None:
    """Milliseconds since the epoch of the instant ``value`` names, or None if not ISO-8601.

    Sub-millisecond digits are dropped (rounded down), as in the written form.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # (timedelta // timedelta would be shorter and slower: it goes through big integers.)
    since = parsed - (_NAIVE_EPOCH if parsed.tzinfo is None else _EPOCH)
    return since.days * 86_400_000 + since.seconds * 1000 + since.microseconds // 1000


def format_ms(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for milliseconds since the epoch.

    Raises ``OverflowError`` outside years 1 to 9999.
    """
    second, millisecond = divmod(ms, 1000)
    text = _seconds.get(second)
    if text is None:
        if len(_seconds) >= _SECONDS_CACHED:
            _seconds.clear()
        # No microseconds, so isoformat() writes exactly the seconds (years zero-padded).
        text = _seconds[second] = (_NAIVE_EPOCH + timedelta(seconds=second)).isoformat()
    return text + _FRACTIONS[millisecond]
