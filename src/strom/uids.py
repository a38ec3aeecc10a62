"""Random (version 4) UUIDs in their text form, as Go's uuid.New() makes them.

Every response carries one (Audit-Id) and every create makes one (metadata.uid), so this is on
the request path. The standard library's uuid4() builds a UUID object and an int on the way to
the same text and calls os.urandom(16) each time, which releases the GIL for the getrandom()
system call: under load the event loop then waits to get it back (py-spy put one in ten of a
loaded server's samples there). Random bytes are therefore read 4 KiB at a time, 256 UUIDs per
system call, from the same kernel source.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_uuid"]

_POOL_BYTES = 4096
# The variant nibble (RFC 9562: 10xx) for each random hex digit it replaces.
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


class _Pool:
    """Random bytes read ahead. `lock` guards `data`/`pos` (the loop and threads may both ask)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data = b""
        self.pos = 0

    def take16(self) -> bytes:
        with self.lock:
            pos = self.pos
            if pos + 16 > len(self.data):
                self.data, pos = os.urandom(_POOL_BYTES), 0
            self.pos = pos + 16
            return self.data[pos : pos + 16]

    def reset(self) -> None:
        """After fork: a child must not hand out the parent's remaining bytes again."""
        self.lock = threading.Lock()
        self.data, self.pos = b"", 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.reset)


def random_uuid() -> str:
    """122 random bits, version 4, RFC variant: `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`."""
    h = _pool.take16().hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
