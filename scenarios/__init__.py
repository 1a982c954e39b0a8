"""One module per scenario; ``minisys scenario list`` shows them all.

See docs/scenarios.md for how to write one: subclass
:class:`minisys.scenario.Scenario`, declare systems, scales and metrics,
implement ``prepare`` (the workload, once per scale) and ``run`` (one system).
"""
