"""The smallest protocols that exercise the transport: ping, and gossip of a set.

They are here to show the shape every role in minisys has -- messages at the
top, one handler per message, background work in ``start`` -- and to prove the
same class runs unchanged on the simulator and over HTTP (tests/net).

Gossip is push-pull anti-entropy (Demers et al., 1987; Dynamo §4.8 uses the
same idea for membership): every ``GOSSIP_INTERVAL`` a node pushes its whole
set to one random peer; the peer merges it and, if it knows items the sender
lacks, replies with its own set, which the sender merges. With n nodes every
item reaches everyone in O(log n) rounds with high probability.

Run one node as a real process::

    python -m minisys.net.examples serve --id a --port 8001 \\
        --peer b=http://127.0.0.1:8002 --item apple
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from minisys.net.messages import message
from minisys.net.transport import Node, Transport, handler

#: Mean seconds between two pushes from one node (jittered +-50% so nodes drift apart).
GOSSIP_INTERVAL = 0.1


@message(name="examples.Ping")
class Ping:
    nonce: int


@message(name="examples.Pong")
class Pong:
    nonce: int
    node: str


@message(name="examples.Gossip")
class Gossip:
    items: frozenset[str]


@message(name="examples.Add")
class Add:
    item: str


@message(name="examples.Read")
class Read:
    pass


@message(name="examples.Items")
class Items:
    items: frozenset[str]


class PingNode(Node):
    """Answers every ping with a pong naming itself."""

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        return Pong(msg.nonce, self.node_id)


class GossipNode(PingNode):
    """Holds a grow-only set and spreads it by push-pull gossip.

    The set is kept in ``storage`` too, so a restarted node comes back with
    what it had learnt (and the gossip fills in what it missed meanwhile).
    """

    def __init__(self, transport: Transport, interval: float = GOSSIP_INTERVAL) -> None:
        super().__init__(transport)
        self.interval = interval
        self.items: set[str] = set(self.storage.get("items", ()))

    async def start(self) -> None:
        self.spawn(self.gossip_forever(), name=f"{self.node_id}.gossip")

    async def gossip_forever(self) -> None:
        while True:
            await self.sleep(self.interval * (0.5 + self.random.random()))
            peers = self.peers()
            if peers:
                self.send(self.random.choice(peers), Gossip(frozenset(self.items)))

    def merge(self, items: frozenset[str]) -> None:
        if not items <= self.items:
            self.items |= items
            self.storage["items"] = sorted(self.items)

    @handler
    async def on_gossip(self, msg: Gossip, sender: str) -> Gossip | None:
        self.merge(msg.items)
        # Pull: answer only if the sender lacks something, so exchanges end.
        return Gossip(frozenset(self.items)) if self.items != msg.items else None

    @handler
    async def on_add(self, msg: Add, sender: str) -> Items:
        self.merge(frozenset([msg.item]))
        return Items(frozenset(self.items))

    @handler
    async def on_read(self, msg: Read, sender: str) -> Items:
        return Items(frozenset(self.items))


# --- running one node as a process -------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    from minisys.net.http import HttpNetwork

    directory = dict(p.split("=", 1) for p in args.peer)
    async with HttpNetwork(directory, token=args.token, host=args.host, seed=args.seed) as net:
        node = await net.add_node(args.id, lambda t: GossipNode(t, args.interval), port=args.port)
        assert isinstance(node, GossipNode)
        for item in args.item:
            node.merge(frozenset([item]))
        print(f"serving {args.id} at {net.directory[args.id]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minisys.net.examples")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run one GossipNode over HTTP until SIGINT/SIGTERM")
    s.add_argument("--id", required=True, help="this node's id")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--peer", action="append", default=[], metavar="ID=URL")
    s.add_argument("--item", action="append", default=[], help="an item this node starts with")
    s.add_argument("--token", default=None, help="shared token peers must present")
    s.add_argument("--interval", type=float, default=GOSSIP_INTERVAL)
    s.add_argument("--seed", type=int, default=None)
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
