"""``minisys dynamo ...``: run real Dynamo nodes and local clusters.

    minisys dynamo serve --node-id n1 --port 8001 --data-dir /tmp/d/n1 [--seeds 127.0.0.1:8002] [--n 3 --r 2 --w 2]
    minisys dynamo cluster up --nodes 5 [--base-port 8001] [--data-dir DIR]
    minisys dynamo cluster down [--data-dir DIR]
    minisys dynamo leave --url http://127.0.0.1:8003

Top-level imports are stdlib only (the CLI contract): the node code loads in the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(tempfile.gettempdir()) / "minisys-dynamo"


def _config(args: argparse.Namespace) -> Any:
    from minisys.dynamo.node import DynamoConfig

    return DynamoConfig(n=args.n, r=args.r, w=args.w, strategy=args.strategy, partitions=args.partitions,
                        mode=args.mode)


def _add_quorum_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=3, help="replicas per key (default 3)")
    p.add_argument("--r", type=int, default=2, help="read quorum (default 2)")
    p.add_argument("--w", type=int, default=2, help="write quorum (default 2)")
    p.add_argument("--strategy", type=int, default=3, choices=(1, 2, 3), help="partitioning strategy (§6.2)")
    p.add_argument("--partitions", type=int, default=64, help="Q for strategies 2 and 3 (default 64)")
    p.add_argument("--mode", default="vv", choices=("vv", "lww"), help="vector clocks or last-write-wins")


def _serve(args: argparse.Namespace) -> int:
    import logging

    from minisys.dynamo.server import ServeOptions, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from minisys.dynamo.server import parse_founders

    seeds = tuple(s for s in (args.seeds or "").split(",") if s)
    opts = ServeOptions(args.node_id, args.port, Path(args.data_dir), rpc_port=args.rpc_port, seeds=seeds,
                        host=args.host, token=os.environ.get("MINISYS_DYNAMO_TOKEN"),
                        founders=parse_founders(args.founders) if args.founders else None)
    run(opts, _config(args))
    return 0


def _wait_up(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/status", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def start_process(node_id: str, port: int, data_dir: Path, seeds: list[str], args: argparse.Namespace,
                  log_path: Path, rpc_port: int | None = None, founders: str = "") -> subprocess.Popen[bytes]:
    """Start ``minisys dynamo serve`` as its own process group (so it can be SIGKILLed alone)."""
    cmd = [sys.executable, "-m", "minisys", "dynamo", "serve", "--node-id", node_id, "--port", str(port),
           "--data-dir", str(Path(data_dir).resolve()), "--n", str(args.n), "--r", str(args.r), "--w", str(args.w),
           "--strategy", str(args.strategy), "--partitions", str(args.partitions), "--mode", args.mode]
    if seeds:
        cmd += ["--seeds", ",".join(seeds)]
    if rpc_port:
        cmd += ["--rpc-port", str(rpc_port)]
    if founders:
        cmd += ["--founders", founders]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as logf:
        return subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)


def _cluster_up(args: argparse.Namespace) -> int:
    from minisys.errors import BadInput, ServiceUnavailable

    root = Path(args.data_dir)
    state = root / "cluster.json"
    if state.exists():
        raise BadInput(f"{state} exists: a cluster is already up there (run `minisys dynamo cluster down`)")
    if args.nodes < args.n:
        raise BadInput(f"--nodes {args.nodes} is fewer than --n {args.n} replicas")
    root.mkdir(parents=True, exist_ok=True)
    nodes = []
    founders = ",".join(f"n{i + 1}=127.0.0.1:{args.base_port + i}" for i in range(args.nodes))
    for i in range(args.nodes):
        node_id, port = f"n{i + 1}", args.base_port + i
        proc = start_process(node_id, port, root / node_id, [], args, root / f"{node_id}.log", founders=founders)
        nodes.append({"id": node_id, "port": port, "pid": proc.pid, "url": f"http://127.0.0.1:{port}"})
        state.write_text(json.dumps({"nodes": nodes}, indent=1))
    for node in nodes:
        if not _wait_up(node["url"], time.monotonic() + 30):
            _down(root)
            raise ServiceUnavailable(f"node {node['id']} did not start; see {root / (node['id'] + '.log')}")
    for node in nodes:
        print(f"{node['id']}  {node['url']}  pid {node['pid']}")
    return 0


def _down(root: Path) -> int:
    state = root / "cluster.json"
    if not state.exists():
        return 0
    nodes = json.loads(state.read_text())["nodes"]
    for node in nodes:
        try:
            os.kill(node["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for node in nodes:
        while time.monotonic() < deadline:
            try:
                os.kill(node["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(node["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    state.unlink()
    return len(nodes)


def _cluster_down(args: argparse.Namespace) -> int:
    count = _down(Path(args.data_dir))
    print(f"stopped {count} node(s)")
    return 0


def _leave(args: argparse.Namespace) -> int:
    from minisys.errors import BadInput, ServiceUnavailable

    req = urllib.request.Request(args.url.rstrip("/") + "/admin/leave", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            print(json.loads(resp.read())["left"], "left the ring; its ranges were handed over")
    except urllib.error.HTTPError as exc:
        raise BadInput(f"{args.url}: {json.loads(exc.read() or b'{}').get('error', exc.reason)}") from None
    except OSError as exc:
        raise ServiceUnavailable(f"{args.url}: {exc}") from None
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("dynamo", help="Dynamo (SOSP 2007): eventually consistent key-value store")
    p.set_defaults(_group_parser=p)
    dsub = p.add_subparsers(dest="dynamo_command", metavar="COMMAND")

    s = dsub.add_parser("serve", help="run one Dynamo node (HTTP API + RPC)")
    s.add_argument("--node-id", required=True)
    s.add_argument("--port", type=int, required=True, help="client API port")
    s.add_argument("--rpc-port", type=int, default=None, help="node-to-node port (default: --port + 1000)")
    s.add_argument("--seeds", default="", help="comma-separated HOST:PORT API addresses of seed nodes")
    s.add_argument("--data-dir", required=True, help="where the SQLite engine and membership live")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--founders", default="",
                   help="founding members ID=HOST:PORT[/RPCPORT],... (all start with the same ring; no join)")
    _add_quorum_flags(s)
    s.set_defaults(func=_serve)

    lv = dsub.add_parser("leave", help="remove a node from the ring (it hands its ranges over first)")
    lv.add_argument("--url", required=True, help="the leaving node's API URL, e.g. http://127.0.0.1:8003")
    lv.set_defaults(func=_leave)

    c = dsub.add_parser("cluster", help="start or stop a local multi-process cluster")
    c.set_defaults(_group_parser=c)
    csub = c.add_subparsers(dest="cluster_command", metavar="COMMAND")
    up = csub.add_parser("up", help="start K local node processes")
    up.add_argument("--nodes", type=int, default=5)
    up.add_argument("--base-port", type=int, default=8001, help="API ports from here; RPC ports + 1000")
    up.add_argument("--data-dir", default=str(DEFAULT_DIR))
    _add_quorum_flags(up)
    up.set_defaults(func=_cluster_up)
    down = csub.add_parser("down", help="stop the local cluster started by `cluster up`")
    down.add_argument("--data-dir", default=str(DEFAULT_DIR))
    down.set_defaults(func=_cluster_down)
