"""strom.uids: what it makes is a version-4 UUID in canonical text, and they do not repeat."""

from __future__ import annotations

import re
import uuid

from strom.uids import random_uuid

CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_random_uuids_are_version_4_in_canonical_form() -> None:
    made = [random_uuid() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    for text in made[:2000]:
        assert CANONICAL.match(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    # Every variant digit occurs: the variant nibble keeps the random bits it may keep.
    assert {text[19] for text in made} == set("89ab")
