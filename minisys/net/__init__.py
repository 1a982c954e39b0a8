"""Transports shared by every distributed system in minisys.

Node code is written once against :class:`Node` / :class:`Transport` and runs
on :class:`SimNetwork` (deterministic, seeded, virtual time) or on
:class:`HttpNetwork` (real sockets: a lean HTTP/1.1 server and pooled client
on asyncio, httptools parsing; uvloop where the process starts through
:func:`minisys.net.loop.run`). See docs/net.md.
"""

from minisys.net.errors import (
    MessageDecodeError,
    MessageEncodeError,
    NetError,
    Rejected,
    RemoteError,
    RpcTimeout,
    UnknownMessageType,
    Unreachable,
)
from minisys.net.http import HttpNetwork
from minisys.net.latency import Constant, Exponential, Latency, LogNormal, Pareto, Uniform
from minisys.net.messages import (
    decode,
    encode,
    from_plain,
    is_message,
    message,
    message_class,
    message_name,
    register_message,
    to_plain,
)
from minisys.net.sim import Link, SimDeadlock, SimNetwork, SimTimeLimit, TraceEvent
from minisys.net.storage import Storage
from minisys.net.transport import Node, NodeFactory, Transport, handler

__all__ = [
    "Constant",
    "Exponential",
    "HttpNetwork",
    "Latency",
    "Link",
    "LogNormal",
    "MessageDecodeError",
    "MessageEncodeError",
    "NetError",
    "Node",
    "NodeFactory",
    "Pareto",
    "Rejected",
    "RemoteError",
    "RpcTimeout",
    "SimDeadlock",
    "SimNetwork",
    "SimTimeLimit",
    "Storage",
    "TraceEvent",
    "Transport",
    "Uniform",
    "UnknownMessageType",
    "Unreachable",
    "decode",
    "encode",
    "from_plain",
    "handler",
    "is_message",
    "message",
    "message_class",
    "message_name",
    "register_message",
    "to_plain",
]
