"""Every message a Dynamo node sends, as frozen dataclasses (no pickling on any wire).

Sibling lists travel as plain data (``Any``): ``[[value, node, counter, ts,
[[node, counter, ts], ...]], ...]`` -- see :meth:`Sibling.to_plain`. Contexts
travel as opaque strings (:mod:`minisys.dynamo.context`).
"""

from __future__ import annotations

from typing import Any

from minisys.net import message

# --- client requests (§4.1: get(key), put(key, context, object)) --------------------------


@message(name="dynamo.ClientGet")
class ClientGet:
    key: str


@message(name="dynamo.GetReply")
class GetReply:
    siblings: Any
    context: str
    coordinator: str


@message(name="dynamo.ClientPut")
class ClientPut:
    key: str
    value: bytes
    context: str = ""
    forwarded: bool = False


@message(name="dynamo.PutReply")
class PutReply:
    context: str
    coordinator: str


# --- replica traffic (§4.5, §4.6) ------------------------------------------------------------


@message(name="dynamo.ReplicaGet")
class ReplicaGet:
    key: str


@message(name="dynamo.ReplicaData")
class ReplicaData:
    siblings: Any


@message(name="dynamo.ReplicaPut")
class ReplicaPut:
    """Store these siblings (merged with yours); ``hint`` names the node they really belong to."""

    key: str
    siblings: Any
    hint: str = ""


@message(name="dynamo.Ack")
class Ack:
    pass


# --- anti-entropy (§4.7) --------------------------------------------------------------------


@message(name="dynamo.MerkleLevel")
class MerkleLevel:
    """Ask for the hashes of some nodes of one level of the tree for ``range``."""

    range: str
    level: int
    indices: list[int]


@message(name="dynamo.MerkleHashes")
class MerkleHashes:
    hashes: list[str]


@message(name="dynamo.BucketDigests")
class BucketDigests:
    """Ask for key -> digest of every key in some leaf buckets of ``range``."""

    range: str
    buckets: list[int]


@message(name="dynamo.Digests")
class Digests:
    digests: dict[str, str]


@message(name="dynamo.SyncKeys")
class SyncKeys:
    """Here are my siblings for these keys; merge them, and send back yours (push-pull)."""

    items: dict[str, Any]
    reply: bool = True


# --- membership (§4.8, §4.9) ------------------------------------------------------------------


@message(name="dynamo.Member")
class Member:
    status: str  # "up" or "left"
    version: int
    address: str = ""  # the node's RPC URL (real clusters); its HTTP API URL is in ``api``
    api: str = ""


@message(name="dynamo.TokenOwner")
class TokenOwner:
    node: str
    version: int


@message(name="dynamo.Gossip")
class Gossip:
    sender: str
    members: dict[str, Member]
    tokens: dict[str, TokenOwner]


@message(name="dynamo.TransferOffer")
class TransferOffer:
    ranges: list[str]


@message(name="dynamo.TransferConfirm")
class TransferConfirm:
    ranges: list[str]


@message(name="dynamo.StatusQuery")
class StatusQuery:
    pass


@message(name="dynamo.Status")
class Status:
    info: Any
