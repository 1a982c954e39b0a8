"""The HTTP envelope: whatever arrives decodes to a message or to one clear error."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisys.net import MessageDecodeError
from minisys.net.wire import Envelope, decode_request, encode_request

from .protocol import Echo
from .test_messages import Anything

junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
keys = st.sampled_from(["v", "kind", "src", "dst", "type", "body"])
almost_envelopes = st.fixed_dictionaries(
    {"v": st.just(1), "kind": st.sampled_from(["call", "send"]), "src": st.just("x"),
     "dst": st.just("b"), "type": st.sampled_from(["nettest.Echo", "msgtest.Anything", "nope"]),
     "body": junk},
).flatmap(lambda env: st.dictionaries(keys, junk, max_size=2).map(lambda extra: {**env, **extra}))


def decodes_or_explains(data: bytes, codec: str) -> None:
    try:
        env = decode_request(data, codec)  # type: ignore[arg-type]
    except MessageDecodeError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("cannot decode") or "unknown" in str(exc)
    else:
        assert isinstance(env, Envelope)


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_an_envelope_or_a_clear_error(data: bytes) -> None:
    decodes_or_explains(data, "msgpack")
    decodes_or_explains(data, "json")


@given(almost_envelopes)
def test_near_miss_envelopes_are_refused_with_a_clear_error(frame: dict[str, Any]) -> None:
    decodes_or_explains(msgpack.packb(frame), "msgpack")
    decodes_or_explains(json.dumps(frame).encode(), "json")


@pytest.mark.parametrize("depth", [1000, 5000])
@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_deeply_nested_input_is_refused_not_a_crash(codec: str, depth: int) -> None:
    head = {"v": 1, "kind": "call", "src": "x", "dst": "b", "type": "msgtest.Anything",
            "body": {"when": 0.0, "parts": [], "payload": None}}
    if codec == "json":
        prefix = json.dumps(head).encode()[: -len(b"null}}")]
        data = prefix + b"[" * depth + b'"x"' + b"]" * depth + b"}}"
    else:
        prefix = msgpack.packb(head)[:-1]  # drop the final nil: the payload goes there
        data = prefix + b"\x91" * depth + b"\xa1x"
    with pytest.raises(MessageDecodeError, match="nested too deeply|not valid"):
        decode_request(data, codec)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_envelope_roundtrips(codec: str) -> None:
    env = decode_request(encode_request("send", "a", "b", Echo("hi"), codec), codec)  # type: ignore[arg-type]
    assert env == Envelope("send", "a", "b", Echo("hi"))
    assert Anything  # registered, so the fuzzers above reach its decoder
