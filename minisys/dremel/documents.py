"""A generated Document-like dataset: the paper's Fig. 2 schema, widened to 24 columns.

The scenarios, benchmarks and differential tests need nested data at many
sizes with the paper's shape — repeated groups inside repeated groups,
optional fields, empty lists — and enough columns to read 1, 2, 5, 10 and 20
of them (Fig. 9 reads random subsets of T1's fields). Built with numpy
straight into Arrow arrays, seeded, so 10 million records take seconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

DOCUMENT = """message Document {
  required int64 DocId;
  optional group Links {
    repeated int64 Backward;
    repeated int64 Forward;
  }
  repeated group Name {
    repeated group Language {
      required string Code;
      optional string Country;
    }
    optional string Url;
  }
  optional string Title;
  optional string Domain;
  required int64 Year;
  optional int64 Clicks;
  optional int64 Views;
  optional double Score;
  optional int64 Rank;
  optional int64 Length;
  optional bool Spam;
  optional group Author {
    optional string Name;
    optional int64 Age;
    optional string Country;
  }
  repeated int64 Tags;
  repeated string Keywords;
  optional group Crawl {
    optional int64 Time;
    optional int64 Status;
    optional double Latency;
  }
}"""

CODES = ["en-us", "en", "en-gb", "de", "fr", "ja", "es", "pt-br"]
COUNTRIES = ["us", "gb", "de", "fr", "jp", "es", "br"]
TLDS = ["com", "net", "org", "de", "io"]
WORDS = ["data", "column", "nested", "query", "record", "tablet", "level", "tree", "scan", "index"]


def _strings(vocab: list[str], idx: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(vocab)).dictionary_decode()


def _with_nulls(values: pa.Array, mask: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _list(lengths: np.ndarray, values: pa.Array) -> pa.Array:
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def generate(n: int, seed: int = 0) -> pa.Table:
    """``n`` Document records as an Arrow table matching :data:`DOCUMENT`."""
    rng = np.random.default_rng(seed)
    doc_id = rng.permutation(n).astype(np.int64) * 10
    # Links: optional group of two repeated ints
    nb, nf = rng.integers(0, 3, n), rng.integers(0, 4, n)
    backward = _list(nb, pa.array(rng.integers(0, n * 10 + 1, int(nb.sum()), dtype=np.int64)))
    forward = _list(nf, pa.array(rng.integers(0, n * 10 + 1, int(nf.sum()), dtype=np.int64)))
    links = pa.StructArray.from_arrays([backward, forward], names=["Backward", "Forward"], mask=pa.array(rng.random(n) < 0.1))
    # Name: repeated group with repeated Language and optional Url
    nn = rng.integers(0, 4, n)
    m = int(nn.sum())
    nl = rng.integers(0, 3, m)
    k = int(nl.sum())
    code = _strings(CODES, rng.integers(0, len(CODES), k))
    country = _with_nulls(_strings(COUNTRIES, rng.integers(0, len(COUNTRIES), k)), rng.random(k) < 0.3)
    language = _list(nl, pa.StructArray.from_arrays([code, country], names=["Code", "Country"]))
    site = rng.integers(0, 2000, m)
    urls = pa.array([f"http://site{s}.{TLDS[s % len(TLDS)]}/" for s in range(2000)])
    url = _with_nulls(urls.take(pa.array(site)), rng.random(m) < 0.2)
    name = _list(nn, pa.StructArray.from_arrays([language, url], names=["Language", "Url"]))
    title = _with_nulls(_strings([f"title {w} {i}" for i in range(50) for w in WORDS[:4]], rng.integers(0, 200, n)), rng.random(n) < 0.05)
    domain = _with_nulls(_strings([f"site{s}.{TLDS[s % 5]}" for s in range(500)], rng.integers(0, 500, n)), rng.random(n) < 0.1)
    nt, nk = rng.integers(0, 4, n), rng.integers(0, 3, n)

    def opt_int(lo: int, hi: int, p: float) -> pa.Array:
        return _with_nulls(pa.array(rng.integers(lo, hi, n, dtype=np.int64)), rng.random(n) < p)

    def opt_float(p: float) -> pa.Array:
        return _with_nulls(pa.array(rng.random(n)), rng.random(n) < p)

    author = pa.StructArray.from_arrays(
        [_with_nulls(_strings([f"author{i}" for i in range(100)], rng.integers(0, 100, n)), rng.random(n) < 0.2),
         opt_int(18, 90, 0.3), _with_nulls(_strings(COUNTRIES, rng.integers(0, len(COUNTRIES), n)), rng.random(n) < 0.3)],
        names=["Name", "Age", "Country"], mask=pa.array(rng.random(n) < 0.2))
    crawl = pa.StructArray.from_arrays([opt_int(0, 10**9, 0.1), opt_int(200, 600, 0.1), opt_float(0.1)],
                                       names=["Time", "Status", "Latency"], mask=pa.array(rng.random(n) < 0.1))
    return pa.table({
        "DocId": pa.array(doc_id),
        "Links": links,
        "Name": name,
        "Title": title,
        "Domain": domain,
        "Year": pa.array(rng.integers(1995, 2011, n, dtype=np.int64)),
        "Clicks": opt_int(0, 1000, 0.1),
        "Views": opt_int(0, 100000, 0.1),
        "Score": opt_float(0.1),
        "Rank": opt_int(1, 100, 0.2),
        "Length": opt_int(100, 100000, 0.05),
        "Spam": _with_nulls(pa.array(rng.random(n) < 0.05), rng.random(n) < 0.1),
        "Author": author,
        "Tags": _list(nt, pa.array(rng.integers(0, 1000, int(nt.sum()), dtype=np.int64))),
        "Keywords": _list(nk, _strings(WORDS, rng.integers(0, len(WORDS), int(nk.sum())))),
        "Crawl": crawl,
    })
