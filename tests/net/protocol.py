"""A small protocol the transport tests share: echo, one-way notes, failures."""

from __future__ import annotations

from minisys.net import Node, Transport, handler, message


@message(name="nettest.Echo")
class Echo:
    text: str


@message(name="nettest.Echoed")
class Echoed:
    text: str
    by: str


@message(name="nettest.Note")
class Note:
    n: int


@message(name="nettest.Boom")
class Boom:
    why: str


@message(name="nettest.Slow")
class Slow:
    seconds: float


@message(name="nettest.Done")
class Done:
    pass


@message(name="nettest.Bag")
class Bag:
    items: list[int]


@message(name="nettest.Unhandled")
class Unhandled:
    pass


class Recorder(Node):
    """Echoes, records one-way notes with the local time, and fails on request."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.notes: list[tuple[int, str, float]] = []

    @handler
    async def on_echo(self, msg: Echo, sender: str) -> Echoed:
        return Echoed(msg.text, self.node_id)

    @handler
    async def on_note(self, msg: Note, sender: str) -> None:
        self.notes.append((msg.n, sender, self.now()))

    @handler
    async def on_boom(self, msg: Boom, sender: str) -> None:
        raise ValueError(msg.why)

    @handler
    async def on_slow(self, msg: Slow, sender: str) -> Done:
        await self.sleep(msg.seconds)
        return Done()

    @handler
    async def on_bag(self, msg: Bag, sender: str) -> Bag:
        msg.items.append(99)  # a receiver scribbling on what it was sent
        return Bag(msg.items)
