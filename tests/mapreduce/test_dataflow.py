"""Splitting (§3.1, §4.4), partitioning (§4.1), spilling (§3.1) and the external merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.errors import BadInput
from minisys.mapreduce.inputs import make_splits, read_split
from minisys.mapreduce.merge import group_by_key, merge_runs
from minisys.mapreduce.partition import hash_partition, hash_partitions, range_partition
from minisys.mapreduce.spill import MapOutputBuffer, read_run, write_run


def test_partition_hash_is_stable_across_processes_with_different_hash_seeds():
    keys = ["apple", "banana", "zebra", 17, ["a", 1]]
    here = [hash_partition(k, 7) for k in keys]
    code = ("import json,sys; from minisys.mapreduce.partition import hash_partition; "
            f"print(json.dumps([hash_partition(k, 7) for k in {keys!r}]))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(out.stdout) == here


def test_bulk_hash_partitions_send_every_key_where_hash_partition_does():
    strs = [("apple", 1), ("", 2), ("\udc80surrogate", 3), ("zebra", 4)]
    mixed = strs + [(17, 5), (["a", 1], 6)]
    for pairs in (strs, mixed):
        assert hash_partitions(pairs, 7) == [hash_partition(k, 7) for k, _ in pairs]


def test_range_partition_sends_keys_to_the_range_they_fall_in():
    bounds = ["g", "p"]
    assert [range_partition(k, bounds) for k in ("a", "g", "h", "p", "z")] == [0, 1, 1, 2, 2]


@settings(max_examples=30, deadline=None)
@given(lines=st.lists(st.text(alphabet="ab \n", max_size=12).map(lambda s: s.replace("\n", "")), max_size=40),
       split=st.integers(1, 30))
def test_text_splits_read_every_line_exactly_once_with_its_byte_offset(tmp_path_factory, lines, split):
    path = tmp_path_factory.mktemp("split") / "f.txt"
    data = "".join(line + "\n" for line in lines)
    path.write_text(data)
    splits = make_splits([path], split)
    got = [rec for s in splits for rec in read_split(s)]
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line.encode()) + 1
    assert got == list(zip(offsets, lines, strict=True))


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(st.text(alphabet="ab é\r", max_size=9), max_size=30), crlf=st.booleans(),
       split=st.integers(1, 25), block=st.sampled_from([1, 3, 8, 1 << 20]), final_newline=st.booleans())
def test_text_reader_gives_byte_offsets_and_strips_crlf_across_blocks_and_splits(
        tmp_path_factory, lines, crlf, split, block, final_newline):
    """The block reader (C iterators per block) against a line-by-line reference:
    non-ASCII lines, \\r\\n endings, a missing last newline, blocks smaller than a line."""
    from minisys.mapreduce import inputs

    end = "\r\n" if crlf else "\n"
    data = end.join(lines) + (end if final_newline and lines else "")
    path = tmp_path_factory.mktemp("crlf") / "f.txt"
    path.write_bytes(data.encode())
    want, pos = [], 0
    for raw in data.encode().split(b"\n")[: -1 if data.endswith("\n") or not data else None]:
        text = raw.decode()
        want.append((pos, text[:-1] if text.endswith("\r") else text))
        pos += len(raw) + 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs, "BLOCK", block)
        assert [rec for s in make_splits([path], split) for rec in read_split(s)] == want


def test_readers_for_jsonl_csv_and_parquet(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n{"x": 2}\n')
    (tmp_path / "b.csv").write_text('id,name\n1,"a, b"\n2,c\n')
    pq.write_table(pa.table({"id": [1, 2, 3]}), tmp_path / "c.parquet", row_group_size=2)
    recs = {p.name: [r for s in make_splits([p], 1 << 20) for r in read_split(s)] for p in tmp_path.iterdir()}
    assert [v for _, v in recs["a.jsonl"]] == [{"x": 1}, {"x": 2}]
    assert recs["b.csv"] == [(2, {"id": "1", "name": "a, b"}), (3, {"id": "2", "name": "c"})]
    assert recs["c.parquet"] == [(0, {"id": 1}), (1, {"id": 2}), (2, {"id": 3})]
    assert len(make_splits([tmp_path / "c.parquet"], 1 << 20)) == 2  # one split per row group


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.jsonl", '{"x": 1}\n{oops\n', "bad.jsonl: line at byte 9 is not valid JSON"),
    ("bad.csv", "a,b\n1,2,3\n", "bad.csv: line 2 has 3 fields"),
    ("bad.txt", b"ok\n\xff\xfe\n", "bad.txt: line at byte 3 is not UTF-8"),
    ("blocks.txt", b"ok\nok \xff\xfe\n", "blocks.txt: byte 6 is not UTF-8"),
])
def test_malformed_input_gives_an_error_naming_file_and_place(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    fmt = "textblocks" if name.startswith("blocks") else None
    with pytest.raises(BadInput, match=message.replace(".", r"\.")):
        [r for s in make_splits([path], 1 << 20, fmt) for r in read_split(s)]


def test_map_output_buffer_spills_sorted_runs_when_full_and_merges_them_per_partition(tmp_path):
    buf = MapOutputBuffer(3, hash_partition, None, limit=100, directory=tmp_path)
    keys = [f"k{(i * 7919) % 250}" for i in range(1000)]
    for i, k in enumerate(keys):
        buf.add(k, i)
        assert len(buf.pairs) < 100  # bounded memory: never more than `limit` pairs held
    assert len(buf.spills) == 10
    regions = buf.finish(merge_fan_in=4)
    seen = []
    for p, (path, size, count) in enumerate(regions):
        recs = list(read_run(path))
        assert size == path.stat().st_size and count == len(recs)
        assert [r[0] for r in recs] == sorted(r[0] for r in recs)
        assert all(hash_partition(k, 3) == p for k, _ in recs)
        seen += recs
    assert sorted(seen) == sorted([k, i] for i, k in enumerate(keys))


def test_combiner_runs_on_the_map_side_before_spilling(tmp_path):
    buf = MapOutputBuffer(1, hash_partition, lambda k, vs: [(k, sum(vs))], limit=50, directory=tmp_path)
    for i in range(1000):
        buf.add(f"w{i % 5}", 1)
    ((path, _, _),) = buf.finish(merge_fan_in=8)
    assert list(read_run(path)) == [[f"w{i}", 200] for i in range(5)]
    assert all(n <= 5 for spill in buf.spills for _, n in spill)  # each spill was combined first


def overlapping_sorted_runs(directory):
    """Ten sorted runs whose keys interleave and repeat; run r's values are all r."""
    runs = []
    for r in range(10):
        path = directory / f"run{r}.mp"
        write_run(path, [[f"k{i:03d}", r] for i in range(r, 60, 3)])
        runs.append(path)
    return runs


def test_external_merge_is_multi_pass_bounded_fan_in_and_keeps_ties_in_run_order(tmp_path):
    runs = overlapping_sorted_runs(tmp_path)
    merged = list(merge_runs(runs, tmp_path, fan_in=3))
    assert [k for k, _ in merged] == sorted(k for k, _ in merged)
    assert len(list(tmp_path.glob("merge-pass*"))) >= 4  # 10 runs at fan-in 3 need intermediate passes
    for key, values in group_by_key(iter(merged)):
        vals = list(values)
        assert vals == sorted(vals), key  # ties come out in run order


def test_reduce_input_that_fits_in_memory_is_sorted_in_memory_in_the_external_merges_order(tmp_path):
    """§3.1: the external sort is only for intermediate data too large for memory."""
    runs = overlapping_sorted_runs(tmp_path)
    total = sum(1 for p in runs for _ in read_run(p))
    (tmp_path / "ext").mkdir()
    (tmp_path / "mem").mkdir()
    external = list(merge_runs(runs, tmp_path / "ext", fan_in=3, records=total, memory_records=total - 1))
    in_memory = list(merge_runs(runs, tmp_path / "mem", fan_in=3, records=total, memory_records=total))
    assert in_memory == external  # same keys, ties in the same (run) order
    assert not list((tmp_path / "mem").glob("*"))  # no intermediate merge passes on disk
    assert len(list((tmp_path / "ext").glob("merge-pass*"))) >= 4


def test_text_splits_are_equal_pieces_of_at_most_the_split_size(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 201)
    splits = make_splits([path], 64)
    assert [(s.start, s.end) for s in splits] == [(0, 51), (51, 102), (102, 153), (153, 201)]


def test_keys_that_cannot_be_compared_are_a_clear_error(tmp_path):
    buf = MapOutputBuffer(1, hash_partition, None, limit=10, directory=tmp_path)
    buf.add("a", 1)
    buf.add(3, 1)
    with pytest.raises(BadInput, match="mutually comparable"):
        buf.finish(8)


def test_values_that_are_not_json_serialisable_are_a_clear_error(tmp_path):
    buf = MapOutputBuffer(1, hash_partition, None, limit=10, directory=tmp_path)
    buf.add("a", object())
    with pytest.raises(BadInput, match="JSON-serialisable"):
        buf.finish(8)


