"""What can go wrong between two nodes, as exceptions a caller can act on.

Distributed code mostly needs to tell three outcomes of an RPC apart, because
each calls for a different reaction (retry elsewhere, wait, or give up):

* :class:`RpcTimeout` -- no answer in time. The request may or may not have
  been processed. This is what a partition or a lost message looks like from
  the inside: the caller cannot know which happened.
* :class:`Unreachable` -- the destination is known to be down (connection
  refused, node crashed, no such node). The message was not processed unless
  the node died while processing it.
* :class:`RemoteError` -- the destination ran its handler and the handler raised.

Malformed messages are :class:`MessageDecodeError`, a
:class:`minisys.errors.BadInput`, because bytes that came over a socket are
input like any other (DESIGN principle 6).
"""

from __future__ import annotations

from minisys.errors import BadInput, MinisysError


class NetError(MinisysError):
    """A message could not be exchanged with another node."""


class RpcTimeout(NetError, TimeoutError):
    """No reply within the timeout; the request may or may not have been processed."""

    def __init__(self, dest: str, msg_type: str, timeout: float) -> None:
        super().__init__(f"no reply from {dest!r} to {msg_type} within {timeout:g}s")
        self.dest = dest
        self.msg_type = msg_type
        self.timeout = timeout


class Unreachable(NetError, ConnectionError):
    """The destination is down or unknown, so the message was not delivered."""

    def __init__(self, dest: str, reason: str) -> None:
        super().__init__(f"node {dest!r} is unreachable: {reason}")
        self.dest = dest
        self.reason = reason


class RemoteError(NetError):
    """The destination's handler raised; ``error_type`` and ``detail`` say what."""

    def __init__(self, dest: str, msg_type: str, error_type: str, detail: str) -> None:
        super().__init__(f"{dest!r} failed handling {msg_type}: {error_type}: {detail}")
        self.dest = dest
        self.msg_type = msg_type
        self.error_type = error_type
        self.detail = detail


class Rejected(NetError):
    """An HTTP server refused the request (bad token, too large, undecodable)."""

    def __init__(self, dest: str, status: int, reason: str) -> None:
        super().__init__(f"{dest!r} rejected the request with HTTP {status}: {reason}")
        self.dest = dest
        self.status = status
        self.reason = reason


class NoHandler(NetError):
    """Raised on the receiving side when a node has no handler for a message type.

    The caller sees it as a :class:`RemoteError` with ``error_type == "NoHandler"``.
    """


class MessageDecodeError(BadInput):
    """Bytes or plain data that are not a valid message.

    ``type_name`` is the message type being decoded (or ``None`` when even that
    is unknown) and ``path`` the field inside it, e.g. ``"entries[3].key"``.
    """

    def __init__(self, type_name: str | None, path: str, reason: str) -> None:
        where = type_name or "message"
        if path:
            where = f"{where}.{path}" if not path.startswith("[") else f"{where}{path}"
        super().__init__(f"cannot decode {where}: {reason}")
        self.type_name = type_name
        self.path = path
        self.reason = reason


class UnknownMessageType(MessageDecodeError):
    """The type name on the wire is not registered with ``@message``."""

    def __init__(self, type_name: str) -> None:
        BadInput.__init__(
            self, f"unknown message type {type_name!r} (no @message class registered by that name)"
        )
        self.type_name = type_name
        self.path = ""
        self.reason = "unknown message type"


class MessageEncodeError(TypeError):
    """A message whose field values do not match its declared types.

    A ``TypeError`` rather than :class:`BadInput`: it is a bug in the sending
    code, caught before the message leaves the node.
    """
