"""Dead letters as people and tools see them (shared by the admin API and the CLI)."""

from __future__ import annotations

from typing import Any

import msgspec

from csroute.secrets import Scrubber
from csroute.store.base import DeadLetter, Store


def dead_letter_json(letter: DeadLetter, *, with_event: bool, scrub: Scrubber) -> dict[str, Any]:
    """The dead letter as shown; ``scrub`` masks the configuration's secrets in it again, for
    letters stored before their destination's response was scrubbed on the way in."""
    shown: dict[str, Any] = {
        "id": letter.id,
        "destination": letter.destination,
        "seq": letter.seq,
        "user": letter.user_key,
        "attempts": letter.attempts,
        "error": letter.error,
        "status": letter.status,
        "created_at": letter.created_at,
    }
    if with_event:
        shown["event"] = msgspec.json.decode(letter.payload) if letter.payload else None
        shown["request"] = msgspec.json.decode(letter.request) if letter.request else None
        shown["response"] = (letter.response or b"").decode("utf-8", "replace")
    scrubbed: dict[str, Any] = scrub.json(shown)
    return scrubbed


async def all_ids(store: Store, destination: str | None) -> list[int]:
    ids: list[int] = []
    after = 0
    while page := await store.dead_letters(destination, after, 1000):
        ids.extend(d.id for d in page)
        after = page[-1].id
    return ids
