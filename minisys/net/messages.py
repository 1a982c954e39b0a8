"""Messages are data: frozen dataclasses, registered by name, never pickled.

Every system declares its protocol at the top of its own ``messages.py``, the
way the 500-lines Paxos declares ``Prepare`` and ``Accepted``::

    @message
    class Put:
        key: str
        value: bytes
        context: tuple[VectorClockEntry, ...] = ()

``@message`` makes the class a frozen dataclass (if it is not one already) and
records it under a *type name* -- the class name unless ``name=`` says
otherwise. The type name is what travels on the wire, so a receiver can find
the class without trusting the sender with anything but data (DESIGN
principle 3). Two systems that both want a ``Get`` pass ``name="dynamo.Get"``.

On the wire a message is ``{"type": <name>, "body": {<field>: <value>}}``,
packed with msgpack (the default on HTTP: compact, native bytes) or JSON
(readable, for curl and logs). Field values are checked against the
annotations in both directions; see :mod:`minisys.net.codec` for what types
are allowed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

import msgpack

from minisys.net import codec
from minisys.net.errors import MessageDecodeError, MessageEncodeError, UnknownMessageType

Codec = Literal["msgpack", "json"]
CODECS: tuple[Codec, ...] = ("msgpack", "json")
CONTENT_TYPES: dict[Codec, str] = {"msgpack": "application/msgpack", "json": "application/json"}

T = TypeVar("T")

_by_name: dict[str, type] = {}
_name_of: dict[type, str] = {}

codec.name_of = _name_of.get
codec.class_named = _by_name.get

#: ``registered_name(type(msg))``: the type name, or None if not a message (a fast check).
registered_name: Callable[[type], str | None] = _name_of.get


@overload
def message(cls: type[T], /) -> type[T]: ...
@overload
def message(*, name: str | None = None) -> Callable[[type[T]], type[T]]: ...


def message(cls: type[T] | None = None, /, *, name: str | None = None) -> Any:
    """Declare a message type: ``@message`` or ``@message(name="dynamo.Get")``.

    A plain class becomes ``dataclass(frozen=True, slots=True)``; an existing
    dataclass must already be frozen, because a message that can change after
    it was sent means something different to sender and receiver.
    """

    def wrap(c: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(c):
            c = dataclasses.dataclass(frozen=True, slots=True)(c)
        return register_message(c, name)

    return wrap if cls is None else wrap(cls)


def register_message(cls: type[T], name: str | None = None) -> type[T]:
    """Register a frozen dataclass under ``name`` (default: its class name)."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass; decorate it with @message")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"message {cls.__name__} must be frozen: @dataclass(frozen=True)")
    name = name or cls.__name__
    old = _by_name.get(name)
    if old is not None and old is not cls:
        same_source = (old.__module__, old.__qualname__) == (cls.__module__, cls.__qualname__)
        if not same_source:
            raise TypeError(
                f"message name {name!r} is already used by {old.__module__}.{old.__qualname__}; "
                f'give {cls.__module__}.{cls.__qualname__} another one with @message(name="...")'
            )
        # The same class defined again (a module reloaded): the new one wins.
        _name_of.pop(old, None)
        _msgpack_converters.pop(old, None)
        codec.forget(old)
    _by_name[name] = cls
    _name_of[cls] = name
    try:
        codec.converters(cls, True)
        codec.converters(cls, False)
    except NameError:
        pass  # a forward reference not defined yet: checked on first use instead
    except TypeError:
        del _by_name[name], _name_of[cls]
        raise
    return cls


def message_name(msg_or_cls: Any) -> str:
    """The registered type name of a message instance or class."""
    cls = msg_or_cls if isinstance(msg_or_cls, type) else type(msg_or_cls)
    try:
        return _name_of[cls]
    except KeyError:
        raise TypeError(f"{cls.__qualname__} is not a message; decorate it with @message") from None


def message_class(name: str) -> type:
    """The class registered under ``name``; :class:`UnknownMessageType` if none."""
    try:
        return _by_name[name]
    except KeyError:
        raise UnknownMessageType(name) from None


def is_message(obj: Any) -> bool:
    return type(obj) in _name_of


# --- plain data -------------------------------------------------------------


def to_plain(msg: Any, *, binary: bool = True) -> dict[str, Any]:
    """The message's fields as plain data (the ``body`` on the wire)."""
    name = message_name(msg)
    try:
        return codec.converters(type(msg), binary)[0](msg)
    except codec.ShapeError as exc:
        where = f"{name}.{exc.path}" if exc.path else name
        raise MessageEncodeError(f"cannot encode {where}: {exc.reason}") from None
    except RecursionError:
        raise MessageEncodeError(f"cannot encode {name}: nested too deeply") from None


def from_plain(cls_or_name: type[T] | str, body: Any, *, binary: bool = True) -> T:
    """Rebuild a message from plain data, checking every field against its type."""
    cls = message_class(cls_or_name) if isinstance(cls_or_name, str) else cls_or_name
    name = message_name(cls)
    try:
        return codec.converters(cls, binary)[1](body)
    except codec.ShapeError as exc:
        raise MessageDecodeError(name, exc.path, exc.reason) from None
    except RecursionError:
        raise MessageDecodeError(name, "", "nested too deeply") from None


# --- bytes ----------------------------------------------------------------------


def pack(plain: Any, codec_name: Codec = "msgpack") -> bytes:
    """Serialize plain data (maps, lists, scalars, msgpack bytes)."""
    try:
        if codec_name == "msgpack":
            return msgpack.packb(plain, use_bin_type=True)
        if codec_name == "json":
            return json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError, OverflowError) as exc:
        raise MessageEncodeError(f"cannot serialize as {codec_name}: {exc}") from None
    raise ValueError(f"unknown codec {codec_name!r}; choose one of {', '.join(CODECS)}")


def unpack(data: bytes, codec_name: Codec = "msgpack") -> Any:
    """Parse bytes into plain data; anything unparsable is a :class:`MessageDecodeError`."""
    try:
        if codec_name == "msgpack":
            return msgpack.unpackb(data, raw=False, strict_map_key=True)
        if codec_name == "json":
            return json.loads(data)
    except Exception as exc:  # every parser failure is bad input, never a crash
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MessageDecodeError(None, "", f"not valid {codec_name}: {reason}") from None
    raise ValueError(f"unknown codec {codec_name!r}; choose one of {', '.join(CODECS)}")


def encode(msg: Any, codec_name: Codec = "msgpack") -> bytes:
    """``{"type": name, "body": fields}`` as msgpack or JSON bytes."""
    binary = codec_name == "msgpack"
    return pack({"type": message_name(msg), "body": to_plain(msg, binary=binary)}, codec_name)


def decode(data: bytes, codec_name: Codec = "msgpack") -> Any:
    """The message in ``data``; :class:`MessageDecodeError` naming type and field if invalid."""
    frame = unpack(data, codec_name)
    if type(frame) is not dict or set(frame) != {"type", "body"}:
        raise MessageDecodeError(None, "", 'expected a map with keys "type" and "body"')
    return from_plain_named(frame["type"], frame["body"], binary=codec_name == "msgpack")


def from_plain_named(type_name: Any, body: Any, *, binary: bool) -> Any:
    """Like :func:`from_plain` for a type name read off the wire (not yet trusted)."""
    if type(type_name) is not str:
        raise MessageDecodeError(None, "type", f"expected a type name, got {type(type_name).__name__}")
    return from_plain(message_class(type_name), body, binary=binary)


def roundtrip(msg: T, packer: msgpack.Packer | None = None) -> T:
    """``decode(encode(msg))`` with msgpack: what a receiver would get (the simulator's check).

    The hot path of a simulation, hence the direct calls instead of
    :func:`encode` / :func:`decode`, and the optional reusable ``packer``
    (not thread-safe: one per simulation).
    """
    cls = type(msg)
    convert = _msgpack_converters.get(cls)
    if convert is None:
        message_name(cls)  # refuses non-messages
        convert = _msgpack_converters[cls] = codec.converters(cls, True)
    try:
        plain = convert[0](msg)
        data = packer.pack(plain) if packer is not None else msgpack.packb(plain, use_bin_type=True)
    except codec.ShapeError as exc:
        where = f"{_name_of[cls]}.{exc.path}" if exc.path else _name_of[cls]
        raise MessageEncodeError(f"cannot encode {where}: {exc.reason}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        if packer is not None:
            packer.reset()
        raise MessageEncodeError(f"cannot serialize {_name_of[cls]} as msgpack: {exc}") from None
    return convert[1](msgpack.unpackb(data, raw=False))


_msgpack_converters: dict[type, tuple[codec.Convert, codec.Convert]] = {}
