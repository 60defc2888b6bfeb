"""Masking secrets wherever they could be printed (logs, errors, metrics, CLI output)."""

from __future__ import annotations


def mask(secret: str) -> str:
    """Show just enough of a secret to tell keys apart: ``abcd…wxyz`` becomes ``ab…yz``.

    Short secrets are masked whole, so a masked value never reveals most of a key.
    """
    if len(secret) <= 8:
        return "****"
    return f"{secret[:2]}…{secret[-2:]}"
