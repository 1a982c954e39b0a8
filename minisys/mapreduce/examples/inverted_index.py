"""Inverted index (§2.3): Map emits (word, document id) once per word of a
document; Reduce emits (word, sorted list of document ids).

Documents are JSON lines ``{"id": ..., "text": ...}``, or text lines whose
byte offset is the document id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from minisys.mapreduce.job import Job


class InvertedIndex(Job):
    def map(self, offset: int, doc: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(doc, dict):
            doc_id, text = doc["id"], doc["text"]
        else:
            doc_id, text = offset, doc
        for word in set(text.lower().split()):
            yield word, doc_id

    def reduce(self, word: str, doc_ids: Iterable[Any]) -> Iterator[tuple[str, list[Any]]]:
        yield word, sorted(doc_ids)
