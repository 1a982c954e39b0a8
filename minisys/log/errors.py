"""Errors a log client can act on; each travels as ``Error(kind, detail)`` and is re-raised by kind.

All are :class:`~minisys.errors.BadInput`: the request was refused and the
broker keeps serving (the issue's "bad input" acceptance).
"""

from __future__ import annotations

from minisys.errors import BadInput
from minisys.log.record import CorruptMessage, MessageTooLarge


class UnknownTopicOrPartition(BadInput):
    """No such topic, or no such partition of it."""


class OffsetOutOfRange(BadInput):
    """A fetch below the log start (deleted by retention) or past the high watermark."""


class NotRegistered(BadInput):
    """A group request from a consumer whose registration expired (it must re-join)."""


class NotLeader(BadInput):
    """A produce or fetch sent to a replica that does not lead the partition."""


class NotEnoughReplicas(BadInput):
    """An acks=all produce while the in-sync replicas are fewer than min.insync.replicas."""


class BrokerError(BadInput):
    """Any other refusal the client has no class for."""


KINDS: dict[str, type[BadInput]] = {
    cls.__name__: cls
    for cls in (UnknownTopicOrPartition, OffsetOutOfRange, NotRegistered, NotLeader, NotEnoughReplicas,
                CorruptMessage, MessageTooLarge, BadInput)
}


def from_kind(kind: str, detail: str) -> BadInput:
    return KINDS.get(kind, BrokerError)(detail)
