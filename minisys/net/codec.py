"""Type-directed conversion between message field values and plain data.

Why type-directed: a message's field annotations are its schema. Reading them
once per class lets the decoder check every value against the declared type
and name the exact field that is wrong (``Put.entries[3].key: expected str,
got int``), and lets nested dataclasses, tuples, sets and bytes travel as
ordinary maps and lists with no type tags on the wire. Nothing is ever
unpickled: the wire carries only maps, lists, strings, numbers, bools, null
and (msgpack) bytes.

"Plain data" is what msgpack and JSON can both carry. ``binary=True`` is the
msgpack flavour (bytes stay bytes); ``binary=False`` is JSON (bytes become
base64 strings).

Supported annotations: ``int float str bool bytes None``, ``Any``/``object``
(plain data only), ``X | None``, ``list[X]``, ``tuple[X, ...]``,
``tuple[X, Y]``, ``set[X]``, ``frozenset[X]``, ``dict[K, V]``, enums, nested
dataclasses, unions of registered messages, and unions of ``int float str
bool``. Anything else is refused when the class is registered.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import operator
import types
import typing
from collections.abc import Callable
from typing import Any

Convert = Callable[[Any], Any]

#: Key naming the member type when a value's declared type is a union of messages.
TYPE_TAG = "$type"
#: JSON stand-in for bytes inside ``Any`` fields, where no annotation says "bytes".
BYTES_TAG = "$bytes"


class ShapeError(Exception):
    """A value does not have its declared shape; ``path`` is built on the way out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self._segments: list[str] = []

    def at(self, segment: str) -> ShapeError:
        self._segments.append(segment)
        return self

    @property
    def path(self) -> str:
        return "".join(reversed(self._segments)).lstrip(".")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


# The registry lives in messages.py; it lends us its name lookups so unions of
# messages can be tagged without a circular import.
name_of: Callable[[type], str | None] = lambda cls: None  # noqa: E731
class_named: Callable[[str], type | None] = lambda name: None  # noqa: E731

_cache: dict[tuple[Any, bool], tuple[Convert, Convert]] = {}
_MISSING = object()


def converters(tp: Any, binary: bool) -> tuple[Convert, Convert]:
    """``(dump, load)`` for values declared as ``tp``; raises TypeError if unsupported."""
    key = (tp, binary)
    found = _cache.get(key)
    if found is None:
        found = _build(tp, binary)
        _cache[key] = found
    return found


def forget(cls: type) -> None:
    """Drop cached converters of a class (it was re-registered, e.g. on reload)."""
    for key in [k for k in _cache if k[0] is cls]:
        del _cache[key]


# --- scalars ---------------------------------------------------------------


def _dump_int(v: Any) -> int:
    if type(v) is int:
        return v
    if not isinstance(v, bool):
        try:
            return operator.index(v)  # numpy integers and other int-likes
        except TypeError:
            pass
    raise ShapeError(f"expected int, got {_kind(v)}")


def _load_int(v: Any) -> int:
    if type(v) is int:
        return v
    raise ShapeError(f"expected int, got {_kind(v)}")


def _float(v: Any) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int or (isinstance(v, float) and t is not bool):
        return float(v)
    raise ShapeError(f"expected float, got {_kind(v)}")


def _str(v: Any) -> str:
    if type(v) is str:
        return v
    raise ShapeError(f"expected str, got {_kind(v)}")


def _bool(v: Any) -> bool:
    if v is True or v is False:
        return v
    raise ShapeError(f"expected bool, got {_kind(v)}")


def _none(v: Any) -> None:
    if v is None:
        return None
    raise ShapeError(f"expected null, got {_kind(v)}")


def _dump_bytes_bin(v: Any) -> bytes:
    if type(v) is bytes:
        return v
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    raise ShapeError(f"expected bytes, got {_kind(v)}")


def _load_bytes_bin(v: Any) -> bytes:
    if type(v) is bytes:
        return v
    raise ShapeError(f"expected bytes, got {_kind(v)}")


def _dump_bytes_json(v: Any) -> str:
    return base64.b64encode(_dump_bytes_bin(v)).decode("ascii")


def _load_bytes_json(v: Any) -> bytes:
    if type(v) is not str:
        raise ShapeError(f"expected base64 text for bytes, got {_kind(v)}")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ShapeError(f"invalid base64 for bytes: {exc}") from None


_SCALARS: dict[Any, tuple[Convert, Convert]] = {
    int: (_dump_int, _load_int),
    float: (_float, _float),
    str: (_str, _str),
    bool: (_bool, _bool),
    type(None): (_none, _none),
    None: (_none, _none),
}


# --- Any: plain data only ----------------------------------------------------


def _dump_any(v: Any, binary: bool) -> Any:
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if t is bytes or t is bytearray or t is memoryview:
        return bytes(v) if binary else {BYTES_TAG: base64.b64encode(v).decode("ascii")}
    if t is list or t is tuple:
        out = []
        for i, x in enumerate(v):
            try:
                out.append(_dump_any(x, binary))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out
    if t is dict:
        res = {}
        for k, x in v.items():
            if type(k) is not str:
                raise ShapeError(f"map keys in an Any field must be str, got {_kind(k)}")
            try:
                res[k] = _dump_any(x, binary)
            except ShapeError as exc:
                raise exc.at(f"[{k!r}]") from None
        if not binary and len(res) == 1 and BYTES_TAG in res:
            raise ShapeError(f"a map whose only key is {BYTES_TAG!r} is reserved for bytes")
        return res
    raise ShapeError(f"{t.__name__} is not plain data; give the field a precise type")


def _load_any(v: Any, binary: bool) -> Any:
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str or (binary and t is bytes):
        return v
    if t is list:
        out = []
        for i, x in enumerate(v):
            try:
                out.append(_load_any(x, binary))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out
    if t is dict:
        if not binary and len(v) == 1 and BYTES_TAG in v:
            return _load_bytes_json(v[BYTES_TAG])
        res = {}
        for k, x in v.items():
            if type(k) is not str:
                raise ShapeError(f"map keys must be str, got {_kind(k)}")
            try:
                res[k] = _load_any(x, binary)
            except ShapeError as exc:
                raise exc.at(f"[{k!r}]") from None
        return res
    raise ShapeError(f"unexpected {_kind(v)} value")


# --- building converters -----------------------------------------------------


def _build(tp: Any, binary: bool) -> tuple[Convert, Convert]:
    if tp in _SCALARS:
        return _SCALARS[tp]
    if tp is bytes:
        return (_dump_bytes_bin, _load_bytes_bin) if binary else (_dump_bytes_json, _load_bytes_json)
    if tp is Any or tp is object:
        return (lambda v: _dump_any(v, binary)), (lambda v: _load_any(v, binary))
    if tp is list:
        tp = list[Any]
    elif tp is tuple:
        tp = tuple[Any, ...]
    elif tp is dict:
        tp = dict[str, Any]
    elif tp is set or tp is frozenset:
        tp = tp[Any]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, binary)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return converters(args[0], binary)
    if origin is typing.Union or origin is types.UnionType:
        return _union(tp, args, binary)
    if origin is list:
        return _sequence(args[0], list, binary)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(args[0], tuple, binary)
        return _fixed_tuple(args, binary)
    if origin is set or origin is frozenset:
        return _set(args[0], origin, binary)
    if origin is dict:
        return _dict(args[0], args[1], binary)
    raise TypeError(f"unsupported field type {tp!r} in a message")


def _enum(cls: type[enum.Enum]) -> tuple[Convert, Convert]:
    def dump(v: Any) -> Any:
        if isinstance(v, cls):
            return v.value
        raise ShapeError(f"expected {cls.__name__}, got {_kind(v)}")

    def load(v: Any) -> Any:
        try:
            return cls(v)
        except (ValueError, TypeError):
            raise ShapeError(f"{v!r} is not a valid {cls.__name__}") from None

    return dump, load


def _sequence(item: Any, kind: type, binary: bool) -> tuple[Convert, Convert]:
    dump_item, load_item = converters(item, binary)
    label = kind.__name__

    def dump(v: Any) -> list:
        if not isinstance(v, list | tuple):
            raise ShapeError(f"expected {label}, got {_kind(v)}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(dump_item(x))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out

    def load(v: Any) -> Any:
        if type(v) is not list:
            raise ShapeError(f"expected a list for {label}, got {_kind(v)}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(load_item(x))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out if kind is list else tuple(out)

    return dump, load


def _fixed_tuple(items: tuple[Any, ...], binary: bool) -> tuple[Convert, Convert]:
    convs = [converters(t, binary) for t in items]
    n = len(convs)

    def check_len(v: Any) -> None:
        if len(v) != n:
            raise ShapeError(f"expected {n} items, got {len(v)}")

    def dump(v: Any) -> list:
        if not isinstance(v, list | tuple):
            raise ShapeError(f"expected tuple of {n}, got {_kind(v)}")
        check_len(v)
        out = []
        for i, ((d, _), x) in enumerate(zip(convs, v, strict=True)):
            try:
                out.append(d(x))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out

    def load(v: Any) -> tuple:
        if type(v) is not list:
            raise ShapeError(f"expected a list for tuple of {n}, got {_kind(v)}")
        check_len(v)
        out = []
        for i, ((_, ld), x) in enumerate(zip(convs, v, strict=True)):
            try:
                out.append(ld(x))
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return tuple(out)

    return dump, load


def _set(item: Any, kind: type, binary: bool) -> tuple[Convert, Convert]:
    seq_dump, seq_load = _sequence(item, list, binary)

    def dump(v: Any) -> list:
        if not isinstance(v, set | frozenset):
            raise ShapeError(f"expected {kind.__name__}, got {_kind(v)}")
        try:
            ordered = sorted(v)  # the same set always encodes to the same bytes
        except TypeError:
            ordered = list(v)
        return seq_dump(ordered)

    def load(v: Any) -> Any:
        items = seq_load(v)
        try:
            return kind(items)
        except TypeError as exc:
            raise ShapeError(f"set items must be hashable: {exc}") from None

    return dump, load


def _dict(key: Any, value: Any, binary: bool) -> tuple[Convert, Convert]:
    dump_v, load_v = converters(value, binary)
    if key is str:
        # A str-keyed dict is a wire map; every other key type travels as
        # [key, value] pairs, because JSON maps only have string keys.
        def dump(v: Any) -> dict:
            if not isinstance(v, dict):
                raise ShapeError(f"expected dict, got {_kind(v)}")
            out = {}
            for k, x in v.items():
                if type(k) is not str:
                    raise ShapeError(f"expected str key, got {_kind(k)}")
                try:
                    out[k] = dump_v(x)
                except ShapeError as exc:
                    raise exc.at(f"[{k!r}]") from None
            return out

        def load(v: Any) -> dict:
            if type(v) is not dict:
                raise ShapeError(f"expected a map, got {_kind(v)}")
            out = {}
            for k, x in v.items():
                if type(k) is not str:
                    raise ShapeError(f"expected str key, got {_kind(k)}")
                try:
                    out[k] = load_v(x)
                except ShapeError as exc:
                    raise exc.at(f"[{k!r}]") from None
            return out

        return dump, load

    dump_k, load_k = converters(key, binary)

    def dump_pairs(v: Any) -> list:
        if not isinstance(v, dict):
            raise ShapeError(f"expected dict, got {_kind(v)}")
        out = []
        for i, (k, x) in enumerate(v.items()):
            try:
                out.append([dump_k(k), dump_v(x)])
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out

    def load_pairs(v: Any) -> dict:
        if type(v) is not list:
            raise ShapeError(f"expected a list of [key, value] pairs, got {_kind(v)}")
        out = {}
        for i, pair in enumerate(v):
            try:
                if type(pair) is not list or len(pair) != 2:
                    raise ShapeError(f"expected a [key, value] pair, got {_kind(pair)}")
                k = load_k(pair[0])
                try:
                    out[k] = load_v(pair[1])
                except TypeError as exc:
                    raise ShapeError(f"unhashable key: {exc}") from None
            except ShapeError as exc:
                raise exc.at(f"[{i}]") from None
        return out

    return dump_pairs, load_pairs


def _union(tp: Any, members: tuple[Any, ...], binary: bool) -> tuple[Convert, Convert]:
    others = [m for m in members if m is not type(None)]
    optional = len(others) < len(members)
    if len(others) == 1:
        inner = converters(others[0], binary)
    elif all(isinstance(m, type) and dataclasses.is_dataclass(m) for m in others):
        inner = _tagged(others, binary)
    elif all(m in (int, float, str, bool) for m in others):
        inner = _scalar_union(others)
    else:
        raise TypeError(
            f"unsupported union {tp!r}: use X | None, a union of @message classes, "
            "or a union of int/float/str/bool"
        )
    if not optional:
        return inner
    dump_x, load_x = inner
    return (lambda v: None if v is None else dump_x(v)), (lambda v: None if v is None else load_x(v))


def _tagged(members: list[type], binary: bool) -> tuple[Convert, Convert]:
    for m in members:
        if name_of(m) is None:
            raise TypeError(f"{m.__name__} is in a union of messages, so it must be a @message")
    expected = " | ".join(m.__name__ for m in members)

    def dump(v: Any) -> dict:
        cls = type(v)
        if cls not in members:
            raise ShapeError(f"expected {expected}, got {_kind(v)}")
        return {TYPE_TAG: name_of(cls), **converters(cls, binary)[0](v)}

    def load(v: Any) -> Any:
        if type(v) is not dict or TYPE_TAG not in v:
            raise ShapeError(f"expected a map with {TYPE_TAG!r} naming one of {expected}")
        cls = class_named(v[TYPE_TAG]) if type(v[TYPE_TAG]) is str else None
        if cls not in members:
            raise ShapeError(f"{v[TYPE_TAG]!r} is not one of {expected}")
        fields = {k: x for k, x in v.items() if k != TYPE_TAG}
        return converters(cls, binary)[1](fields)

    return dump, load


def _scalar_union(members: list[type]) -> tuple[Convert, Convert]:
    expected = " | ".join(m.__name__ for m in members)

    def convert(v: Any) -> Any:
        t = type(v)
        if t in members:
            return v
        if t is int and float in members:
            return float(v)
        raise ShapeError(f"expected {expected}, got {_kind(v)}")

    return convert, convert


def _dataclass(cls: type, binary: bool) -> tuple[Convert, Convert]:
    spec: list[tuple[str, Convert, Convert]] = []
    names: set[str] = set()
    names_in_order: list[str] = []
    label = cls.__name__
    init_fields = [f for f in dataclasses.fields(cls) if f.init]
    positional = not any(f.kw_only for f in init_fields)  # cls(*values) is faster

    def dump(v: Any) -> dict:
        if not isinstance(v, cls):
            raise ShapeError(f"expected {label}, got {_kind(v)}")
        out = {}
        for name, dump_f, _ in spec:
            try:
                out[name] = dump_f(getattr(v, name))
            except ShapeError as exc:
                raise exc.at("." + name) from None
        return out

    def load(v: Any) -> Any:
        if type(v) is not dict:
            raise ShapeError(f"expected a map of {label} fields, got {_kind(v)}")
        values = []
        for name, _, load_f in spec:
            x = v.get(name, _MISSING)
            if x is _MISSING:
                raise ShapeError("missing field").at("." + name)
            try:
                values.append(load_f(x))
            except ShapeError as exc:
                raise exc.at("." + name) from None
        if len(v) != len(spec):
            extra = next(key for key in v if key not in names)
            raise ShapeError(f"unexpected field {extra!r}")
        try:
            if positional:
                return cls(*values)
            return cls(**dict(zip(names_in_order, values, strict=True)))
        except (TypeError, ValueError) as exc:  # a __post_init__ check refused it
            raise ShapeError(f"{label} refused the values: {exc}") from None

    # Registered before the fields are built, so a recursive type (a tree of
    # itself) finds these converters instead of recursing forever.
    _cache[(cls, binary)] = (dump, load)
    try:
        hints = typing.get_type_hints(cls)
        for f in init_fields:
            try:
                dump_f, load_f = converters(hints[f.name], binary)
            except TypeError as exc:
                raise TypeError(f"{label}.{f.name}: {exc}") from None
            spec.append((f.name, dump_f, load_f))
            names.add(f.name)
            names_in_order.append(f.name)
    except BaseException:
        del _cache[(cls, binary)]
        raise
    return dump, load
