#!/usr/bin/env python3
"""Write docs/openapi.json from the description csroute serves at ``/openapi.json``.

    .venv/bin/python scripts/openapi.py

The document's one source is ``src/csroute/ops/openapi.py``; tests/ops/test_openapi.py fails
while the copy in docs/ differs from it.
"""

from __future__ import annotations

from pathlib import Path

from csroute.ops.openapi import rendered

DOCS = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"

if __name__ == "__main__":
    DOCS.write_text(rendered())
    print(f"wrote {DOCS}")
