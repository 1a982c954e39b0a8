"""How protocol roles declare their handlers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from minisys.net import Node, SimNetwork, handler, message

from .protocol import Done, Echo, Echoed, Note

MakeSim = Callable[..., SimNetwork]


@message(name="nodetest.Put")
class Put:
    key: str


@message(name="nodetest.Delete")
class Delete:
    key: str


class Base(Node):
    @handler
    async def on_echo(self, msg: Echo, sender: str) -> Echoed:
        return Echoed(msg.text, "base")

    @handler(Note)
    async def on_note(self, msg, sender):  # type: ignore[no-untyped-def]
        return None


class Derived(Base):
    async def on_echo(self, msg: Echo, sender: str) -> Echoed:  # no decorator: still the handler
        return Echoed(msg.text, "derived")

    @handler
    async def on_write(self, msg: Put | Delete, sender: str) -> Done:
        return Done()


def test_handler_type_comes_from_the_annotation_or_the_decorator() -> None:
    assert Base._handler_table == {Echo: "on_echo", Note: "on_note"}


def test_subclass_inherits_and_overrides_handlers(make_sim: MakeSim) -> None:
    net = make_sim()
    net.add_node("d", Derived)
    client = net.add_client("client")
    assert net.run(client.call("d", Echo("x"))) == Echoed("x", "derived")
    assert net.run(client.call("d", Note(1))) is None


def test_union_annotation_registers_each_member(make_sim: MakeSim) -> None:
    assert Derived._handler_table[Put] == Derived._handler_table[Delete] == "on_write"
    net = make_sim()
    net.add_node("d", Derived)
    client = net.add_client("client")
    assert net.run(client.call("d", Delete("k"))) == Done()


def test_handler_must_be_async() -> None:
    with pytest.raises(TypeError, match="async def"):

        class Sync(Node):
            @handler
            def on_echo(self, msg: Echo, sender: str) -> None:
                pass


def test_unannotated_handler_is_refused() -> None:
    with pytest.raises(TypeError, match="annotate the message parameter"):

        class Vague(Node):
            @handler
            async def on_something(self, msg, sender):  # type: ignore[no-untyped-def]
                pass


def test_handler_for_a_non_message_is_refused() -> None:
    with pytest.raises(TypeError, match="not a @message"):

        class Confused(Node):
            @handler
            async def on_int(self, msg: int, sender: str) -> None:
                pass


def test_handler_returning_a_non_message_is_a_remote_error(make_sim: MakeSim) -> None:
    class Sloppy(Node):
        @handler(Echo)
        async def on_echo(self, msg, sender):  # type: ignore[no-untyped-def]
            return {"text": msg.text}

    net = make_sim()
    net.add_node("s", Sloppy)
    client = net.add_client("client")
    with pytest.raises(Exception, match="returned dict"):
        net.run(client.call("s", Echo("x")))
