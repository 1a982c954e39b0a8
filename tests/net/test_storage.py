from __future__ import annotations

from pathlib import Path

import pytest

from minisys.errors import BadInput
from minisys.net import MessageEncodeError, Storage


def test_file_storage_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "node.msgpack"
    store = Storage(path)
    store["log"] = [1, "two", b"three", None, {"nested": 4.5}]
    store["gone"] = 1
    del store["gone"]
    again = Storage(path)
    assert dict(again) == {"log": [1, "two", b"three", None, {"nested": 4.5}]}


def test_storage_refuses_what_a_disk_could_not_hold() -> None:
    store = Storage()
    with pytest.raises(MessageEncodeError, match=r"storage\['bad'\]"):
        store["bad"] = {1, 2}
    with pytest.raises(TypeError):
        store[3] = "x"  # type: ignore[index]
    assert len(store) == 0


def test_a_corrupt_storage_file_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "node.msgpack"
    path.write_bytes(b"\xc1 definitely not msgpack")
    with pytest.raises(BadInput, match="not a minisys storage file"):
        Storage(path)
