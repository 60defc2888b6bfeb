"""Masking secrets wherever they could be printed (logs, errors, metrics, CLI output)."""

from __future__ import annotations

import base64
import binascii
import functools
import urllib.parse
from collections.abc import Iterable
from typing import Any, Final

MIN_SECRET_LEN: Final = 6
"""Shorter values are not looked for inside other text: they would match anything."""


def mask(secret: str) -> str:
    """Show just enough of a secret to tell keys apart: ``abcd…wxyz`` becomes ``ab…yz``.

    Short secrets are masked whole, so a masked value never reveals most of a key.
    """
    if len(secret) <= 8:
        return "****"
    return f"{secret[:2]}…{secret[-2:]}"


def wire_forms(secret: str) -> set[str]:
    """The ways ``secret`` travels in a request, so an echo of any of them is found: as is,
    URL-encoded, base64-encoded as HTTP Basic credentials (``key:``, ``:key``, ``key``), and,
    for an ``Authorization``-style value (``Basic dXNlcjpwdw==``, ``Bearer abc``), the
    credential after the scheme and what a Basic credential decodes to (both its halves)."""
    if len(secret.strip()) < MIN_SECRET_LEN:
        return set()
    forms = {secret, urllib.parse.quote(secret, safe="")}
    for plain in (f"{secret}:", f":{secret}", secret):
        forms.add(base64.b64encode(plain.encode()).decode())
    scheme, _, credential = secret.strip().partition(" ")
    credential = credential.strip()
    if credential:
        forms.add(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, _, password = decoded.partition(":")
            forms.update({decoded, user, password})
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


class Scrubber:
    """Replaces every wire form of some known secrets by its mask, in text or in bytes.

    Longer forms are replaced first, so a secret that contains another is masked whole.
    """

    __slots__ = ("_bytes", "_text")

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {f for s in secrets for f in wire_forms(s)}
        ordered = sorted(forms, key=len, reverse=True)
        self._text = [(f, mask(f)) for f in ordered]
        self._bytes = [(f.encode(), m.encode()) for f, m in self._text]

    def __bool__(self) -> bool:
        return bool(self._text)

    def text(self, text: str) -> str:
        for form, masked in self._text:
            if form in text:
                text = text.replace(form, masked)
        return text

    def bytes(self, data: bytes) -> bytes:
        for form, masked in self._bytes:
            if form in data:
                data = data.replace(form, masked)
        return data

    def json(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value


@functools.lru_cache(maxsize=256)
def scrubber(secrets: frozenset[str]) -> Scrubber:
    """The scrubber of a set of secrets, built once (a destination's secrets rarely change)."""
    return Scrubber(secrets)
