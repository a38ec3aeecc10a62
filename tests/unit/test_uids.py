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


def test_a_forked_child_does_not_repeat_the_parents_uuids() -> None:
    import os

    random_uuid()  # the pool holds bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write what it makes next, then leave at once
        os.write(write, "".join(random_uuid() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    parent = "".join(random_uuid() for _ in range(10))
    assert status == 0 and len(child) == len(parent) == 360
    assert child != parent
