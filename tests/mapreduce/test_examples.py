"""The bundled jobs (§2.3) against plain-Python references, and the Spark runner."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.mapreduce import run

EX = "minisys.mapreduce.examples"


@pytest.mark.parametrize("job", ["WordCount", "FastWordCount"])
def test_word_count_matches_counter(tmp_path, text_file, job):
    result = run(f"{EX}.wordcount:{job}", [text_file], tmp_path / "out", split_mb=0.1, reduce_tasks=3)
    assert dict(result.pairs()) == Counter(text_file.read_text().split())


@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.text(alphabet="ab\u00e9", min_size=1, max_size=4), max_size=60),
       gaps=st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f",
                                      "\u2003", "\u00a0 "]), min_size=60, max_size=60),
       block=st.sampled_from([1, 7, 64]), final_newline=st.booleans())
def test_fast_word_count_splits_words_exactly_as_str_split_across_blocks(tmp_path_factory, words, gaps, block,
                                                                        final_newline):
    """The vectorised map (Arrow on ASCII blocks, Counter on the rest, merged
    per task) must count the same words as the textbook job, whatever the
    whitespace and however the text falls into blocks and splits."""
    from minisys.mapreduce import inputs
    from minisys.mapreduce.examples.wordcount import FastWordCount

    path = tmp_path_factory.mktemp("fwc") / "in.txt"
    text = "".join(w + g for w, g in zip(words, gaps, strict=False))
    text = text + "\n" if final_newline else text.rstrip() + "x"  # a last line without its newline
    path.write_bytes(text.encode())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs, "BLOCK", block)
        mp.setattr(FastWordCount, "COUNT_EVERY", 2)
        result = run(FastWordCount, [path], path.parent / "out", runner="inline", split_mb=0.0001, reduce_tasks=2)
    assert dict(result.pairs()) == Counter(text.split())


def test_grep_emits_matching_lines_and_counts_them(tmp_path, text_file):
    result = run(f"{EX}.grep:Grep", [text_file], tmp_path / "out", args={"pattern": r"\bw7\b"}, split_mb=0.1)
    expected = Counter(line for line in text_file.read_text().splitlines() if re.search(r"\bw7\b", line))
    assert dict(result.pairs()) == expected
    assert result.counters["grep"]["matches"] == sum(expected.values())


def test_sort_with_a_sampling_range_partitioner_gives_globally_sorted_parts(tmp_path):
    import random

    rng = random.Random(3)
    records = [f"{rng.randrange(10**10):010d}{'x' * 20}" for _ in range(5000)]
    (tmp_path / "in.txt").write_text("\n".join(records) + "\n")
    result = run(f"{EX}.sort:Sort", [tmp_path / "in.txt"], tmp_path / "out", reduce_tasks=4, split_mb=0.02)
    keys = [k + v for k, v in result.pairs()]  # part files in order: concatenation is the sorted input
    assert keys == sorted(records)
    sizes = [sum(1 for _ in open(p)) for p in result.parts]
    assert min(sizes) > 5000 / 4 / 3  # the sampled boundaries balance the partitions


def test_inverted_index_lists_the_documents_of_each_word(tmp_path):
    docs = [{"id": i, "text": f"doc{i % 3} common word{i}"} for i in range(30)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    index = dict(run(f"{EX}.inverted_index:InvertedIndex", [tmp_path / "docs.jsonl"], tmp_path / "out").pairs())
    assert index["common"] == list(range(30))
    assert index["doc1"] == list(range(1, 30, 3))


def test_log_aggregation_is_a_group_by(tmp_path):
    lines = [f"10.0.0.{i % 7} GET /p/{i % 5} 200 {100 + i} {i / 10}" for i in range(1000)]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\nbroken line\n")
    result = dict(run(f"{EX}.logagg:LogAggregate", [tmp_path / "access.log"], tmp_path / "out").pairs())
    expected: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for line in lines:
        _, _, path, _, nbytes, ms = line.split()
        expected[path][0] += 1
        expected[path][1] += int(nbytes)
        expected[path][2] += float(ms)
    assert result == {p: {"requests": n, "bytes": b, "avg_latency_ms": round(ms / n, 6)}
                      for p, (n, b, ms) in expected.items()}


def test_reduce_side_join_pairs_rows_with_equal_keys(tmp_path):
    with open(tmp_path / "users.csv", "w", newline="") as f:
        csv.writer(f).writerows([["id", "name"], ["1", "ann"], ["2", "bob"], ["3", "cy"]])
    with open(tmp_path / "orders.csv", "w", newline="") as f:
        csv.writer(f).writerows([["order", "user_id"], ["a", "1"], ["b", "1"], ["c", "3"], ["d", "9"]])
    result = run(f"{EX}.join:Join", [tmp_path / "users.csv", tmp_path / "orders.csv"], tmp_path / "out",
                 runner="local")
    rows = sorted((k, v["name"], v["order"]) for k, v in result.pairs())
    assert rows == [("1", "ann", "a"), ("1", "ann", "b"), ("3", "cy", "c")]


@pytest.mark.heavy
def test_spark_runner_output_equals_inline_byte_for_byte(tmp_path, text_file):
    pytest.importorskip("pyspark")
    kw = {"reduce_tasks": 3, "split_mb": 0.1}
    inline = run("mr_testjobs:TopWords", [text_file], tmp_path / "inline", **kw)
    spark = run("mr_testjobs:TopWords", [text_file], tmp_path / "spark", runner="spark", spark_master="local[2]", **kw)
    assert [p.read_bytes() for p in spark.parts] == [p.read_bytes() for p in inline.parts]
    assert spark.counters == inline.counters
    assert (tmp_path / "spark" / "_SUCCESS").exists()
