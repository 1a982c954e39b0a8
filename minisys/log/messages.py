"""The log's protocol: every request and reply, declared in one place (STYLE: 500 lines).

Requests carry the paper's vocabulary: a producer sends a ``Produce`` with a
message *set* (§3.1); a consumer pulls with ``Fetch(offset, max_bytes)``
(§3.1: "a pull request contains the offset of the message from which the
consumption begins and an acceptable number of bytes to fetch"). The group
messages are the registry operations of §3.2 (consumer, ownership and offset
registries) that the paper keeps in ZooKeeper.

The same classes travel over both transports (:mod:`minisys.log.server`): as
msgpack frames on a plain TCP stream (the fast path, where a ``Fetched``
reply is followed by the raw segment bytes sent with ``sendfile``), or as
``minisys.net`` HTTP messages (where ``Fetched.data`` carries them).
"""

from __future__ import annotations

from minisys.net import message

# ------------------------------------------------------------------ topics


@message(name="log.CreateTopic")
class CreateTopic:
    topic: str
    partitions: int


@message(name="log.Metadata")
class Metadata:
    topic: str


@message(name="log.TopicInfo")
class TopicInfo:
    topic: str
    partitions: int


# ------------------------------------------------------------------ produce / fetch


@message(name="log.Produce")
class Produce:
    topic: str
    partition: int
    messages: bytes  # a message set: encoded by minisys.log.record
    acks: int = 1    # 1: the leader appended it; -1: every in-sync replica has it


@message(name="log.Produced")
class Produced:
    base_offset: int
    count: int


@message(name="log.Fetch")
class Fetch:
    topic: str
    partition: int
    offset: int
    max_bytes: int
    max_wait_ms: int = 0  # long poll: wait this long for flushed data


@message(name="log.Fetched")
class Fetched:
    offset: int          # the offset of the first message in the bytes
    high_watermark: int  # first offset not yet visible
    size: int            # bytes of log that follow (stream transport) or are in ``data``
    data: bytes = b""


@message(name="log.ListOffsets")
class ListOffsets:
    topic: str
    partition: int


@message(name="log.OffsetRange")
class OffsetRange:
    start: int  # oldest stored offset (retention moves it)
    end: int    # high watermark


# ------------------------------------------------------------------ groups (§3.2)


@message(name="log.JoinGroup")
class JoinGroup:
    group: str
    consumer: str
    topics: tuple[str, ...]
    session_ms: int = 6000


@message(name="log.LeaveGroup")
class LeaveGroup:
    group: str
    consumer: str


@message(name="log.Heartbeat")
class Heartbeat:
    group: str
    consumer: str


@message(name="log.GroupState")
class GroupState:
    version: int  # bumps whenever the consumer or broker registry changes (a watch fires)


@message(name="log.ReadRegistry")
class ReadRegistry:
    group: str


@message(name="log.PartitionOwner")
class PartitionOwner:
    topic: str
    partition: int
    consumer: str


@message(name="log.ConsumerEntry")
class ConsumerEntry:
    consumer: str
    topics: tuple[str, ...]


@message(name="log.RegistryView")
class RegistryView:
    version: int
    consumers: tuple[ConsumerEntry, ...]
    partitions: dict[str, int]  # topic -> partition count (the broker registry)
    owners: tuple[PartitionOwner, ...]


@message(name="log.ClaimPartition")
class ClaimPartition:
    group: str
    consumer: str
    topic: str
    partition: int


@message(name="log.Claim")
class Claim:
    ok: bool
    owner: str  # the current owner (the claimant when ok)


@message(name="log.ReleasePartitions")
class ReleasePartitions:
    group: str
    consumer: str


@message(name="log.CommitOffset")
class CommitOffset:
    group: str
    topic: str
    partition: int
    offset: int


@message(name="log.FetchOffset")
class FetchOffset:
    group: str
    topic: str
    partition: int


@message(name="log.CommittedOffset")
class CommittedOffset:
    offset: int | None


@message(name="log.Ok")
class Ok:
    pass


@message(name="log.Error")
class Error:
    """A refused request: the broker keeps serving; the client raises ``kind`` with ``detail``."""

    kind: str
    detail: str




# ------------------------------------------------------------------ replication (Kafka 0.8, optional in the issue)


@message(name="log.LeaderAndIsr")
class LeaderAndIsr:
    """The controller's order: who leads a partition, and its in-sync replicas (Kafka's request name)."""

    topic: str
    partition: int
    epoch: int
    leader: str
    leader_address: str
    replicas: tuple[str, ...]
    isr: tuple[str, ...]


@message(name="log.ReplicaFetch")
class ReplicaFetch:
    """A follower's pull: its log end ``offset`` tells the leader how far it has replicated."""

    topic: str
    partition: int
    offset: int
    max_bytes: int
    replica: str
    max_wait_ms: int = 0


@message(name="log.DescribePartition")
class DescribePartition:
    topic: str
    partition: int


@message(name="log.PartitionState")
class PartitionState:
    role: str  # "leader", "follower" or "single" (no replication)
    epoch: int
    isr: tuple[str, ...]
    high_watermark: int  # committed (visible to consumers)
    log_end: int


Request = (CreateTopic | Metadata | Produce | Fetch | ListOffsets | JoinGroup | LeaveGroup | Heartbeat
           | ReadRegistry | ClaimPartition | ReleasePartitions | CommitOffset | FetchOffset
           | LeaderAndIsr | ReplicaFetch | DescribePartition)
