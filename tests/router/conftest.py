from __future__ import annotations

import pytest

from csroute.store.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
