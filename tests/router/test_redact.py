"""Secrets masked in every form they travel in: requests shown, responses kept, log lines."""

from __future__ import annotations

import base64
import logging

import pytest

from csroute import logs
from csroute.destinations.base import Request
from csroute.router.redact import ALWAYS_SECRET, Secrets, redact
from csroute.secrets import Scrubber

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

KEY = "sk_live_0123456789abcdef"
BASIC = base64.b64encode(f"{KEY}:".encode()).decode()


def test_every_wire_form_of_a_secret_is_masked() -> None:
    scrub = Scrubber([KEY])
    text = f"raw {KEY}, basic {BASIC}, url {KEY.replace('_', '%5F')}, bare " + (
        base64.b64encode(KEY.encode()).decode()
    )
    scrubbed = scrub.text(text)
    assert KEY not in scrubbed and BASIC not in scrubbed
    assert "sk…ef" in scrubbed
    assert scrub.bytes(text.encode()) == scrubbed.encode()


def test_an_authorization_value_is_masked_with_what_it_decodes_to() -> None:
    scrub = Scrubber([f"Basic {BASIC}"])
    assert KEY not in scrub.text(f"the key {KEY} was refused")
    assert BASIC not in scrub.text(f"got Basic {BASIC}")


def test_short_values_are_not_looked_for() -> None:
    assert not Scrubber(["abc", ""])
    assert Scrubber(["abc"]).text("abc abc") == "abc abc"


def test_redact_masks_secret_values_in_url_params_and_body() -> None:
    secrets = Secrets(ALWAYS_SECRET, (KEY,))
    request = Request(
        "POST",
        f"https://api.example.com/{KEY}/hook",
        headers={"Authorization": f"Bearer {KEY}", "X-Other": "plain"},
        params={"api_key": KEY},
        body={"token": KEY, "nested": [{KEY: "as a key"}]},
    )
    shown = redact(request, secrets)
    assert KEY not in repr(shown)
    assert shown["headers"] == {"Authorization": "Bearer sk…ef", "X-Other": "plain"}


def test_a_request_credential_is_scrubbed_from_what_comes_back() -> None:
    secrets = Secrets(ALWAYS_SECRET, ())
    request = Request("POST", "https://h", headers={"Authorization": f"Basic {BASIC}"})
    echoed = f'{{"error": "bad key {KEY}", "header": "Basic {BASIC}"}}'.encode()
    assert KEY.encode() not in secrets.scrubber(request).bytes(echoed)
    assert BASIC.encode() not in secrets.scrubber(request).bytes(echoed)


def test_log_lines_are_scrubbed_of_configured_secrets(capsys: object) -> None:
    logs.setup("json", "info", [KEY])
    try:
        logging.getLogger("csroute.test").warning("failed: %s", KEY, extra={"reason": BASIC})
    finally:
        logs.setup()
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "failed" in err and KEY not in err and BASIC not in err
