"""The Job API (paper §2, §4.1, §4.3, §4.9) in the shape mrjob users know.

A user writes pure generator methods and the library does the rest::

    class WordCount(Job):
        def map(self, key, line):
            for word in line.split():
                yield word, 1

        def combine(self, word, counts):     # §4.3: same code as reduce
            yield word, sum(counts)

        def reduce(self, word, counts):
            yield word, sum(counts)

Keys and values must be JSON-serialisable (str, int, float, bool, None,
lists, dicts): they are written to intermediate files and to the output as
JSON. Keys of one job must be mutually comparable, because every reduce
partition is processed in increasing key order (§4.2).

A job is referenced by import path (``package.module:Class`` or
``path/to/file.py:Class``), never pickled: workers import it themselves.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.partition import hash_partition

Pair = tuple[Any, Any]


@dataclass(frozen=True)
class Step:
    """One MapReduce of a multi-step job; ``None`` means identity map or reduce."""

    map: Callable[[Any, Any], Iterable[Pair]] | None = None
    combine: Callable[[Any, Iterable[Any]], Iterable[Pair]] | None = None
    reduce: Callable[[Any, Iterable[Any]], Iterable[Pair]] | None = None
    partition: Callable[[Any, int], int] | None = None


class Job:
    """Subclass and define ``map`` / ``reduce`` (and optionally ``combine``,
    ``partition``, ``setup``, ``teardown``, ``steps``, ``prepare``).

    One instance is created per task attempt, so attributes set in ``setup``
    are per task (the paper's workers run one task at a time).
    """

    #: Input reader: "text", "textblocks", "jsonl", "csv", "parquet" or None (by file extension).
    INPUT_FORMAT: str | None = None

    def __init__(self, params: Any = None, args: dict[str, str] | None = None) -> None:
        #: What :meth:`prepare` returned in the master, shipped to every task as JSON.
        self.params = params
        #: The user's ``--arg name=value`` options; only :meth:`prepare` sees them.
        self.args = dict(args or {})
        #: The file the current map task reads (Hadoop's ``map.input.file``), for joins.
        self.input_path: str | None = None
        self._counters: dict[str, dict[str, int]] = {}

    # --- the user's functions (§2.1) ------------------------------------------------
    def map(self, key: Any, value: Any) -> Iterable[Pair]:
        """Identity by default."""
        yield key, value

    def combine(self, key: Any, values: Iterable[Any]) -> Iterable[Pair]:  # pragma: no cover - marker
        """Optional partial reduce on the map side (§4.3); not called unless overridden."""
        raise NotImplementedError

    def reduce(self, key: Any, values: Iterable[Any]) -> Iterable[Pair]:
        """Identity by default."""
        for value in values:
            yield key, value

    def partition(self, key: Any, reduce_tasks: int) -> int:
        """Which reduce task gets ``key`` (§4.1): a stable hash mod R by default."""
        return hash_partition(key, reduce_tasks)

    def setup(self) -> None:
        """Called once per task before the first record."""

    def teardown(self) -> Iterable[Pair] | None:
        """Called once per task after the last record; may yield more pairs
        (mrjob's ``mapper_final``: the hook for in-mapper combining)."""
        return None

    def steps(self) -> list[Step]:
        """A chain of MapReduces; each step's output is the next one's input."""
        combine = self.combine if type(self).combine is not Job.combine else None
        partition = self.partition if type(self).partition is not Job.partition else None
        return [Step(map=self.map, combine=combine, reduce=self.reduce, partition=partition)]

    def prepare(self, inputs: list[str], reduce_tasks: int) -> Any:
        """Runs once in the master before the first task, e.g. to sample the
        input for a range partitioner (the "pre-pass" of §5.3). The JSON value
        returned becomes ``self.params`` in every task; by default, the args."""
        return self.args or None

    # --- counters (§4.9) ------------------------------------------------------------
    def increment_counter(self, group: str, name: str, n: int = 1) -> None:
        """Count something; the master sums successful attempts only."""
        grp = self._counters.get(group)
        if grp is None:
            grp = self._counters[group] = {}
        grp[name] = grp.get(name, 0) + n

    def take_counters(self) -> dict[str, dict[str, int]]:
        counters, self._counters = self._counters, {}
        return counters


def load_job(spec: str) -> type[Job]:
    """Import ``package.module:Class`` or ``path/to/file.py:Class``."""
    module_name, sep, cls_name = spec.rpartition(":")
    if not sep or not module_name or not cls_name:
        raise BadInput(f"job {spec!r}: expected package.module:Class or path/to/file.py:Class")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            if not path.is_file():
                raise BadInput(f"job {spec!r}: no such file {path}")
            mod_name = f"_minisys_job_{abs(hash(str(path)))}"
            module = sys.modules.get(mod_name)
            if module is None:
                loader_spec = importlib.util.spec_from_file_location(mod_name, path)
                assert loader_spec is not None and loader_spec.loader is not None
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[mod_name] = module
                loader_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:  # `mymodule:MyJob` from the directory the user is in
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except BadInput:
        raise
    except ImportError as exc:
        raise BadInput(f"job {spec!r}: cannot import {module_name}: {exc}") from None
    except Exception as exc:  # a job module that raises at import time
        raise BadInput(f"job {spec!r}: importing {module_name} raised {type(exc).__name__}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Job)):
        raise BadInput(f"job {spec!r}: {module_name} has no Job subclass named {cls_name}")
    return cls


def job_spec(job: type[Job] | str) -> str:
    """The import path of a job class (what tasks carry instead of code)."""
    if isinstance(job, str):
        load_job(job)
        return job
    module = sys.modules.get(job.__module__)
    path = getattr(module, "__file__", None)
    if job.__module__ == "__main__" or job.__module__.startswith("_minisys_job_") or "<locals>" in job.__qualname__:
        if path is None or "<locals>" in job.__qualname__:
            raise BadInput(f"job {job.__qualname__}: define it at module level so workers can import it")
        return f"{path}:{job.__qualname__}"
    return f"{job.__module__}:{job.__qualname__}"


def iter_pairs(result: Iterable[Pair] | None, where: str) -> Iterator[Pair]:
    """Check that a user function yielded 2-tuples, with a message naming it."""
    if result is None:
        return
    for item in result:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise BadInput(f"{where} must yield (key, value) pairs; got {item!r:.80}")
        yield item[0], item[1]
