"""Random (version 4) UUIDs in their text form, as Go's uuid.New() makes them.

Every response carries one (Audit-Id) and every create makes one (metadata.uid), so this is on
the request path: the standard library's uuid4() builds a UUID object and an int on the way to
the same text, at about twice the cost (1.9 vs 0.8 µs here).
"""

from __future__ import annotations

import os

__all__ = ["random_uuid"]

# The variant nibble (RFC 9562: 10xx) for each random hex digit it replaces.
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def random_uuid() -> str:
    """122 random bits from os.urandom, version 4, RFC variant: `xxxxxxxx-xxxx-4xxx-Vxxx-…`."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
