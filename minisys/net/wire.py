"""The HTTP wire format: a message in an envelope that says who sent it to whom.

A request body is one map, msgpack or JSON as its Content-Type says::

    {"v": 1, "kind": "call" | "send", "src": "a", "dst": "b",
     "type": "examples.Ping", "body": {"nonce": 7}}

The answer to a ``call`` is ``{"kind": "reply", "type": ..., "body": ...}``,
``{"kind": "none"}`` when the handler returned None, or ``{"kind": "error",
"error": "KeyError", "detail": "..."}`` when it raised. A ``send`` is answered
``202 Accepted`` with no body before its handler runs.

Everything is checked on the way in; anything off is a
:class:`MessageDecodeError` naming the key or field, which the server turns
into a 400 with that one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minisys.net.errors import MessageDecodeError, RemoteError
from minisys.net.messages import Codec, from_plain_named, message_name, pack, to_plain, unpack

RPC_PATH = "/minisys/rpc"
HEALTH_PATH = "/minisys/health"
VERSION = 1
CALL, SEND = "call", "send"

_REQUEST_KEYS = frozenset({"v", "kind", "src", "dst", "type", "body"})
_MSGPACK_TYPES = frozenset({"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"})


@dataclass(frozen=True)
class Envelope:
    kind: str
    src: str
    dst: str
    msg: Any


def codec_for(content_type: str) -> Codec | None:
    """The codec a Content-Type names, or None if it is neither msgpack nor JSON."""
    if content_type in _MSGPACK_TYPES:
        return "msgpack"
    if content_type == "application/json":
        return "json"
    return None


def _bad(key: str, reason: str) -> MessageDecodeError:
    return MessageDecodeError("envelope", key, reason)


def encode_request(kind: str, src: str, dst: str, msg: Any, codec: Codec) -> bytes:
    body = to_plain(msg, binary=codec == "msgpack")
    frame = {"v": VERSION, "kind": kind, "src": src, "dst": dst, "type": message_name(msg), "body": body}
    return pack(frame, codec)


def decode_request(data: bytes, codec: Codec) -> Envelope:
    frame = unpack(data, codec)
    if type(frame) is not dict:
        raise _bad("", f"expected a map, got {type(frame).__name__}")
    if frame.keys() != _REQUEST_KEYS:
        missing = sorted(_REQUEST_KEYS - frame.keys())
        if missing:
            raise _bad(missing[0], "missing")
        extra = sorted(map(str, frame.keys() - _REQUEST_KEYS))
        raise _bad(extra[0], "unexpected key")
    if frame["v"] != VERSION:
        raise _bad("v", f"unsupported version {frame['v']!r} (this node speaks {VERSION})")
    if frame["kind"] not in (CALL, SEND):
        raise _bad("kind", f"expected 'call' or 'send', got {frame['kind']!r}")
    for key in ("src", "dst"):
        if type(frame[key]) is not str:
            raise _bad(key, f"expected a node id string, got {type(frame[key]).__name__}")
    msg = from_plain_named(frame["type"], frame["body"], binary=codec == "msgpack")
    return Envelope(frame["kind"], frame["src"], frame["dst"], msg)


def encode_reply(reply: Any, codec: Codec) -> bytes:
    if reply is None:
        return pack({"kind": "none"}, codec)
    body = to_plain(reply, binary=codec == "msgpack")
    return pack({"kind": "reply", "type": message_name(reply), "body": body}, codec)


def encode_failure(error_type: str, detail: str, codec: Codec) -> bytes:
    detail = detail.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates on the wire
    return pack({"kind": "error", "error": error_type, "detail": detail}, codec)


def decode_reply(data: bytes, codec: Codec, dest: str, request_type: str) -> Any:
    """The reply message (or None); a handler failure raises :class:`RemoteError`."""
    frame = unpack(data, codec)
    kind = frame.get("kind") if type(frame) is dict else None
    if kind == "none":
        return None
    if kind == "reply" and "type" in frame and "body" in frame:
        return from_plain_named(frame["type"], frame["body"], binary=codec == "msgpack")
    if kind == "error":
        raise RemoteError(dest, request_type, str(frame.get("error")), str(frame.get("detail")))
    raise MessageDecodeError("reply", "kind", "expected 'reply', 'none' or 'error'")
