"""Masking captured data before it is kept: secrets never enter the ring, so no viewer, page
or terminal can show them, whatever it later does with a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from csroute.secrets import mask


@dataclass(slots=True, frozen=True)
class Masker:
    """What to hide: secret values wherever they appear, and the values of fields named in
    ``capture.mask_fields`` (personal data) at any depth."""

    secrets: tuple[str, ...]
    field_names: frozenset[str]  # lower-cased

    def value(self, value: Any) -> Any:
        """A JSON value with secrets and named fields masked (a copy; the input is kept)."""
        if isinstance(value, dict):
            return {
                k: mask(str(v)) if k.lower() in self.field_names else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text

    def body(self, body: bytes) -> str:
        """A response body as text; a JSON one has its named fields masked too (APIs echo
        what they were sent)."""
        if self.field_names:
            try:
                return msgspec.json.encode(self.value(msgspec.json.decode(body))).decode()
            except msgspec.DecodeError:
                pass
        return self.text(body.decode("utf-8", "replace"))
