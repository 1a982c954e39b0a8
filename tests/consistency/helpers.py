"""Building hand-written histories without JSON noise."""

from __future__ import annotations

from minisys.consistency.history import Event, History, pair


def hist(*lines: str) -> History:
    """Each line: ``P TYPE F [KEY] [VALUE] [k=v...]``, e.g. ``0 invoke write x 1``.

    Values are Python literals (``None``, ``[1, 2]``); ``ctx=[..]`` sets a
    write's context, ``final`` flags a final read, ``node=n1`` the node.
    A bare identifier after F is the key.
    """
    import ast

    events = []
    for n, line in enumerate(lines, start=1):
        parts = line.split(None, 4)
        extras: dict = {}
        pos = parts[:3]
        rest = parts[3:]
        tail = " ".join(rest)
        flags = [t for t in tail.split() if t == "final" or "=" in t]
        for t in flags:
            tail = tail.replace(t, "", 1)
            if t == "final":
                extras["final"] = True
            else:
                k, v = t.split("=", 1)
                extras[k] = ast.literal_eval(v) if k != "node" else v
        rest = tail.split(None, 1)
        key = value = None
        if rest and rest[0].isidentifier() and rest[0] not in ("None", "True", "False"):
            key, rest = rest[0], rest[1:]
        if rest:
            value = ast.literal_eval(" ".join(rest))
        ctx = extras.get("ctx")
        events.append(Event(int(pos[0]), pos[1], pos[2], key, value, line=n,
                            context=tuple(ctx) if ctx is not None else None,
                            node=extras.get("node"), final=extras.get("final", False)))
    return History(events)


def ops(*lines: str):
    return pair(hist(*lines).events)
