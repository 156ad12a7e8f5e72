"""The redaction corpus: secret formats that must be masked, look-alikes that must stay.

Every value here is made up (built from repeated characters where a vendor checks a
checksum). A secret counts as masked when no 8-character piece of it survives.
"""

from __future__ import annotations

import pytest

from bot.redaction import MASK, redact
from tests.helpers.redaction import LOOK_ALIKES, SECRETS

# (text as a tool or log would show it, the secret inside it)

# Text that looks like a secret to a careless detector and must pass unchanged.


@pytest.mark.parametrize(("text", "secret"), SECRETS, ids=[s[:24] for s, _ in SECRETS])
def test_every_secret_format_is_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert MASK in masked
    pieces = {secret[i:i + 8] for i in range(0, max(len(secret) - 7, 1), 4)}
    survivors = [p for p in pieces if p in masked]
    assert not survivors, f"{masked!r} still shows {survivors}"


@pytest.mark.parametrize("text", LOOK_ALIKES, ids=[t[:24] for t in LOOK_ALIKES])
def test_look_alikes_pass_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_corpus_is_as_large_as_promised() -> None:
    assert len(SECRETS) >= 90 and len(LOOK_ALIKES) >= 40


def test_masking_is_stable() -> None:
    once = redact("\n".join(text for text, _ in SECRETS))
    assert redact(once) == once
