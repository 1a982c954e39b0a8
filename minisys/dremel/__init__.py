"""Dremel (Melnik et al., VLDB 2010): nested columnar storage, record assembly,
the query language and the serving tree. See docs/dremel.md for the paper map.

The names below are imported lazily so that ``minisys --help`` (which imports
``minisys.dremel.cli``) does not load numpy and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Schema": "minisys.dremel.schema",
    "Field": "minisys.dremel.schema",
    "infer_schema": "minisys.dremel.schema",
    "Column": "minisys.dremel.striping",
    "stripe": "minisys.dremel.striping",
    "stripe_arrow": "minisys.dremel.striping",
    "assemble": "minisys.dremel.assembly",
    "construct_fsm": "minisys.dremel.assembly",
    "Table": "minisys.dremel.tablet",
    "Tablet": "minisys.dremel.tablet",
    "QueryError": "minisys.dremel.query",
    "Result": "minisys.dremel.query",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minisys.dremel' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
