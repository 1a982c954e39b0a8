"""Dynamo (DeCandia et al., SOSP 2007): an always-writeable, eventually consistent key-value store.

One module per mechanism (see docs/dynamo.md for the paper map):
``ring`` (§4.2-4.3, §6.2), ``vclock`` + ``reconcile`` (§4.4), ``node`` (§4.5, §5),
``handoff`` (§4.6), ``merkle`` (§4.7), ``gossip`` + ``failure`` + ``transfer``
(§4.8-4.9), ``storage`` (§4.1 engines), ``cluster`` (the simulated harness),
``server`` / ``cli`` (real processes over HTTP), ``client`` (both clients).
"""

from minisys.dynamo.client import Client, DynamoUnavailableError, GetResult, PutResult, SimClient
from minisys.dynamo.cluster import SimCluster
from minisys.dynamo.node import DynamoConfig, DynamoNode, DynamoUnavailable
from minisys.dynamo.reconcile import Sibling, cart_union
from minisys.dynamo.vclock import Dot, VClock

__all__ = [
    "Client",
    "Dot",
    "DynamoConfig",
    "DynamoNode",
    "DynamoUnavailable",
    "DynamoUnavailableError",
    "GetResult",
    "PutResult",
    "Sibling",
    "SimClient",
    "SimCluster",
    "VClock",
    "cart_union",
]
