"""The Dremel query language (§5, App. D): parse, plan, evaluate on columns.

``execute(table, sql)`` is what ``Table.query`` calls. The pieces:
:mod:`.grammar` (tokens, AST, parser with errors at the token),
:mod:`.planner` (nesting levels, aggregate rewriting), :mod:`.evaluate`
(expressions on levels and values, no record assembly), :mod:`.executor`
(leaf / intermediate / root steps) and :mod:`.result` (nested output);
:mod:`.appendix_d` is Fig. 19's per-value loop, the reference the tests
compare the vectorised evaluator with.
"""

from minisys.dremel.query.executor import (
           Partial,
           execute,
           finish,
           merge_partials,
           prepare,
           run_plan,
           scan_tablet,
)
from minisys.dremel.query.grammar import QueryError, parse
from minisys.dremel.query.result import Result

__all__ = ["Partial", "QueryError", "Result", "execute", "finish", "merge_partials", "parse", "prepare",
           "run_plan", "scan_tablet"]
