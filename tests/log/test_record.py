"""The message format (Kafka §3.1, §5): 9 bytes of header, a CRC per message, message sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisys.log.record import (
    OVERHEAD,
    CorruptMessage,
    MessageTooLarge,
    decode_messages,
    encode_message,
    encode_message_set,
    scan,
    validate_message_set,
)


def test_message_header_is_the_papers_nine_bytes() -> None:
    assert OVERHEAD == 9
    assert len(encode_message(b"x" * 200)) == 209


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=30))
def test_a_message_set_decodes_to_the_payloads_it_was_built_from(payloads: list[bytes]) -> None:
    data = encode_message_set(payloads)
    assert validate_message_set(data, 1 << 20) == len(payloads)
    assert decode_messages(data) == (payloads, len(data))


def test_a_flipped_payload_byte_fails_the_crc() -> None:
    data = bytearray(encode_message_set([b"hello", b"world"]))
    data[-1] ^= 0x01
    with pytest.raises(CorruptMessage, match="message 1 .* CRC"):
        validate_message_set(bytes(data), 1 << 20)
    with pytest.raises(CorruptMessage):
        decode_messages(bytes(data))
    assert scan(bytes(data)) == (1, len(encode_message(b"hello")))


def test_a_partial_message_at_the_end_of_a_fetch_is_left_for_the_next_pull() -> None:
    data = encode_message_set([b"a" * 50, b"b" * 50])
    values, used = decode_messages(data[:-10])
    assert values == [b"a" * 50] and used == 59


def test_oversized_message_is_refused_with_its_size_and_the_limit() -> None:
    with pytest.raises(MessageTooLarge, match="message 1 is 2000 bytes, over the broker's limit of 1000"):
        validate_message_set(encode_message_set([b"ok", b"x" * 2000]), 1000)


def test_truncated_or_empty_message_sets_are_refused() -> None:
    data = encode_message_set([b"abc"])
    with pytest.raises(CorruptMessage, match="truncated"):
        validate_message_set(data[:-1], 1000)
    with pytest.raises(CorruptMessage, match="truncated header"):
        validate_message_set(data[:5], 1000)
    with pytest.raises(Exception, match="empty message set"):
        validate_message_set(b"", 1000)
