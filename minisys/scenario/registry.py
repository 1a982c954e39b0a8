"""Finding scenarios (the ``scenarios`` package, or a user's file) and checking requests."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.scenario.base import SCALE_ORDER, Scale, Scenario


def _scenario_classes(module: Any) -> list[type[Scenario]]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Scenario)
        and obj is not Scenario
        and obj.__module__ == module.__name__
        and hasattr(obj, "name")
    ]


def discover(extra_files: Sequence[Path] = ()) -> dict[str, type[Scenario]]:
    """Every scenario in the ``scenarios`` package, plus any user files given."""
    import scenarios as package

    found: dict[str, type[Scenario]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for cls in _scenario_classes(module):
            found[cls.name] = cls
    for path in extra_files:
        for cls in _scenario_classes(load_file(path)):
            found[cls.name] = cls
    return found


def load_file(path: Path) -> Any:
    """Import a user's scenario module from a file path."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"scenario file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"minisys_user_scenario_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise BadInput(f"scenario file {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not _scenario_classes(module):
        raise BadInput(f"scenario file {path} defines no Scenario subclass with a name")
    return module


def default_scales(scenario: Scenario) -> list[str]:
    """Without ``--scale``: the two smallest, enough to draw a line in a minute."""
    return [s for s in SCALE_ORDER if s in scenario.scales][:2]


def resolve_scales(scenario: Scenario, requested: Sequence[str]) -> list[Scale]:
    unknown = [s for s in requested if s not in scenario.scales]
    if unknown:
        raise BadInput(
            f"unknown scale {unknown[0]!r} for scenario {scenario.name}; "
            f"choose from {', '.join(scenario.scales)}"
        )
    return [scenario.scales[s] for s in requested]


def resolve_systems(scenario: Scenario, requested: Sequence[str] | None) -> list[str]:
    if not requested:
        return list(scenario.systems)
    unknown = [s for s in requested if s not in scenario.systems]
    if unknown:
        raise BadInput(
            f"scenario {scenario.name} has no system {unknown[0]!r}; "
            f"choose from {', '.join(scenario.systems)}"
        )
    return [s for s in scenario.systems if s in requested]
