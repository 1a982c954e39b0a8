from __future__ import annotations

from pathlib import Path

import pytest

from minisys.log.broker import Broker
from minisys.log.partition import LogConfig
from minisys.log.server import StreamServer


@pytest.fixture
async def server(tmp_path: Path):
    """A broker on a free 127.0.0.1 port, flushing every 5 ms."""
    async with StreamServer(Broker(tmp_path / "broker", LogConfig(flush_ms=5, max_message_bytes=10_000))) as srv:
        yield srv
