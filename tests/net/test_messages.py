from __future__ import annotations

import dataclasses
import enum
import json
import pickle
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisys.errors import BadInput
from minisys.net import (
    MessageDecodeError,
    MessageEncodeError,
    UnknownMessageType,
    decode,
    encode,
    from_plain,
    message,
    message_class,
    message_name,
    to_plain,
)
from minisys.net.messages import roundtrip


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@message(name="msgtest.Entry")
class Entry:
    key: str
    value: bytes | None
    version: tuple[int, int]


@message(name="msgtest.Put")
class Put:
    key: str


@message(name="msgtest.Delete")
class Delete:
    key: str
    tombstone: bool = True


@message(name="msgtest.Everything")
class Everything:
    n: int
    x: float
    s: str
    flag: bool
    blob: bytes
    nothing: None
    maybe: int | None
    entries: tuple[Entry, ...]
    scores: list[float]
    by_name: dict[str, int]
    by_id: dict[int, str]
    tags: frozenset[str]
    color: Color
    ops: list[Put | Delete]
    extra: Any
    number: int | str


@message(name="msgtest.Tree")
class Tree:
    label: str
    children: tuple[Tree, ...] = ()


@message(name="msgtest.Batch")
class Batch:
    items: list[Entry]


@message
class PlainName:
    n: int


def everything() -> Everything:
    return Everything(
        n=-(2**40),
        x=0.25,
        s="héllo",
        flag=True,
        blob=b"\x00\xffbytes",
        nothing=None,
        maybe=None,
        entries=(Entry("a", b"1", (1, 2)), Entry("b", None, (0, 0))),
        scores=[1.5, 2.0],
        by_name={"x": 1},
        by_id={3: "three", -1: "minus one"},
        tags=frozenset({"b", "a"}),
        color=Color.BLUE,
        ops=[Put("k"), Delete("k", False)],
        extra={"list": [1, "two", None], "raw": b"\x01"},
        number="seven",
    )


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_message_roundtrips_through_msgpack_and_json(codec: str) -> None:
    msg = everything()
    assert decode(encode(msg, codec), codec) == msg


def test_recursive_dataclasses_roundtrip() -> None:
    tree = Tree("root", (Tree("a"), Tree("b", (Tree("c"),))))
    assert decode(encode(tree, "json"), "json") == tree


def test_bytes_travel_as_base64_in_json_and_natively_in_msgpack() -> None:
    entry = Entry("k", b"\x00\x01", (0, 0))
    assert json.loads(encode(entry, "json"))["body"]["value"] == "AAE="
    assert msgpack.unpackb(encode(entry, "msgpack"))["body"]["value"] == b"\x00\x01"


def test_type_name_defaults_to_class_name_and_can_be_set() -> None:
    assert message_name(PlainName) == "PlainName"
    assert message_name(Put("k")) == "msgtest.Put"
    assert message_class("msgtest.Put") is Put


def test_unknown_message_type_is_a_clear_error() -> None:
    data = json.dumps({"type": "msgtest.Nope", "body": {}}).encode()
    with pytest.raises(UnknownMessageType, match="unknown message type 'msgtest.Nope'"):
        decode(data, "json")


def test_decode_errors_are_bad_input() -> None:
    assert issubclass(MessageDecodeError, BadInput)
    assert issubclass(UnknownMessageType, BadInput)


def test_missing_field_is_named_in_the_error() -> None:
    with pytest.raises(MessageDecodeError, match=r"msgtest\.Entry\.version: missing field"):
        from_plain(Entry, {"key": "k", "value": None})


def test_extra_field_is_named_in_the_error() -> None:
    with pytest.raises(MessageDecodeError, match=r"msgtest\.Put: unexpected field 'sneaky'"):
        from_plain(Put, {"key": "k", "sneaky": 1})


def test_wrong_shape_names_type_and_nested_path() -> None:
    body = {"items": [{"key": "a", "value": None, "version": [1, 2]},
                      {"key": 5, "value": None, "version": [1, 2]}]}
    with pytest.raises(MessageDecodeError) as err:
        from_plain(Batch, body)
    assert str(err.value) == "cannot decode msgtest.Batch.items[1].key: expected str, got int"
    assert err.value.type_name == "msgtest.Batch"
    assert err.value.path == "items[1].key"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"items": "nope"}, "items"),
        ({"items": [{"key": "a", "value": None, "version": [1]}]}, "items[0].version"),
        ({"items": [{"key": "a", "value": "not-bytes", "version": [1, 2]}]}, "items[0].value"),
        ({"items": [{"key": "a", "value": None, "version": [True, 2]}]}, "items[0].version[0]"),
    ],
)
def test_every_wrong_shape_is_located(body: dict, path: str) -> None:
    with pytest.raises(MessageDecodeError) as err:
        from_plain(Batch, body)
    assert err.value.path == path


def test_union_of_messages_rejects_a_member_it_does_not_list() -> None:
    plain = to_plain(everything())
    plain["ops"] = [{"$type": "msgtest.Entry", "key": "k", "value": None, "version": [0, 0]}]
    with pytest.raises(MessageDecodeError, match="ops"):
        from_plain(Everything, plain)


@pytest.mark.parametrize("codec", ["msgpack", "json"])
@pytest.mark.parametrize("garbage", [b"", b"\xc1", b"{not json", b"[1, 2", b"\xff" * 40, b'"str"'])
def test_garbage_bytes_are_a_decode_error_not_a_crash(codec: str, garbage: bytes) -> None:
    with pytest.raises(MessageDecodeError):
        decode(garbage, codec)


def test_a_pickle_is_refused_not_loaded() -> None:
    with pytest.raises(MessageDecodeError):
        decode(pickle.dumps(Put("k")), "msgpack")


def test_encoding_a_wrongly_typed_field_fails_before_sending() -> None:
    with pytest.raises(MessageEncodeError, match=r"msgtest\.Entry\.version\[1\]: expected int, got str"):
        encode(Entry("k", None, (1, "2")))  # type: ignore[arg-type]


def test_encoding_a_non_message_is_refused() -> None:
    with pytest.raises(TypeError, match="not a message"):
        encode({"type": "dict"})


def test_message_classes_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Put("k").key = "other"  # type: ignore[misc]


def test_non_frozen_dataclass_is_refused() -> None:
    with pytest.raises(TypeError, match="must be frozen"):

        @message(name="msgtest.Mutable")
        @dataclasses.dataclass
        class Mutable:
            n: int


def test_unsupported_field_type_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match=r"Weird\.when.*unsupported"):

        @message(name="msgtest.Weird")
        class Weird:
            when: complex


def test_duplicate_message_name_is_refused() -> None:
    with pytest.raises(TypeError, match="already used"):

        @message(name="msgtest.Put")
        class Impostor:
            key: str


def test_equal_sets_encode_to_identical_bytes() -> None:
    a = frozenset(f"item{i}" for i in range(50))
    b = frozenset(sorted(a, reverse=True))
    base = everything()
    assert encode(dataclasses.replace(base, tags=a)) == encode(dataclasses.replace(base, tags=b))


def test_roundtrip_gives_an_equal_but_separate_object() -> None:
    batch = Batch([Entry("a", b"x", (1, 1))])
    copy = roundtrip(batch)
    assert copy == batch and copy.items is not batch.items


plain_data = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8).filter(lambda k: k != "$bytes"), inner, max_size=4),
    max_leaves=20,
)


@message(name="msgtest.Anything")
class Anything:
    payload: Any
    when: float
    parts: tuple[str, ...]


@given(payload=plain_data, when=st.floats(allow_nan=False), parts=st.lists(st.text(), max_size=5))
def test_any_plain_value_roundtrips_in_both_codecs(payload: Any, when: float, parts: list[str]) -> None:
    msg = Anything(payload, when, tuple(parts))
    assert decode(encode(msg, "msgpack"), "msgpack") == msg
    assert decode(encode(msg, "json"), "json") == msg
