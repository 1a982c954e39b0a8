"""The opaque context a get returns and a put passes back (§4.1, §6.1).

It carries the vector clock that subsumes the returned siblings and the node
that replied fastest to the read, which the next put is routed to (§6.1:
"the coordinator for a write is chosen to be the node that replied fastest to
the previous read"). Encoded as URL-safe base64 of msgpack, so it fits an
HTTP header.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass

import msgpack

from minisys.dynamo.vclock import VClock
from minisys.errors import BadInput


@dataclass(frozen=True)
class Context:
    clock: VClock
    fastest: str = ""

    def encode(self) -> str:
        raw = msgpack.packb([self.clock.to_plain(), self.fastest], use_bin_type=True)
        return base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Context:
        return _decode(text)

    @classmethod
    def _decode(cls, text: str) -> Context:
        if not text:
            return cls(VClock())
        try:
            clock, fastest = msgpack.unpackb(base64.urlsafe_b64decode(text.encode("ascii")), raw=False)
            return cls(VClock.from_plain(clock), str(fastest))
        except (binascii.Error, ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
                msgpack.StackError, UnicodeEncodeError):
            raise BadInput(f"context {text[:40]!r}: not a context returned by a Dynamo get") from None


@functools.lru_cache(maxsize=4096)
def _decode(text: str) -> Context:
    """Memoised :meth:`Context.decode`: a context is immutable, and the client
    (to route to the fastest replier) and the coordinator decode the same string."""
    return Context._decode(text)
