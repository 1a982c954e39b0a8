from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from minisys.net import SimNetwork


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimNetwork]]:
    """Build SimNetworks that are closed after the test."""
    made: list[SimNetwork] = []

    def make(seed: int | str = 0, **kwargs: Any) -> SimNetwork:
        net = SimNetwork(seed, **kwargs)
        made.append(net)
        return net

    yield make
    for net in made:
        net.close()
