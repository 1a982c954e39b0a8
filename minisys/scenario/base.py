"""What a scenario declares: its systems, scales, metrics, workload and one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from minisys.errors import BadInput

#: Scales every scenario offers, smallest first; a scenario sets their sizes.
SCALE_ORDER: tuple[str, ...] = ("tiny", "small", "medium", "large")


@dataclass(frozen=True)
class Metric:
    """One number a scenario reports; ``better`` says which way is good."""

    name: str
    unit: str
    better: str = "lower"
    title: str = ""

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"metric {self.name}: better must be 'lower' or 'higher'")


#: Added to every scenario by the runner: the measuring process's high-water RSS.
PEAK_RSS = Metric("peak_rss_mb", "MB", "lower", "Peak RSS of the measuring process")


@dataclass(frozen=True)
class Scale:
    """A named size: ``size`` is plotted on the x axis, ``params`` feed the workload."""

    name: str
    size: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtraFigure:
    """A figure a scenario draws itself (``Scenario.figures``), e.g. a paper's plot shape."""

    file: str  # relative to the run's ``figures/`` directory
    title: str
    caption: str = ""


@dataclass
class Outcome:
    """What one measured run of one system returns."""

    metrics: dict[str, float]
    samples: dict[str, list[float]] = field(default_factory=dict)


class Scenario:
    """Base class: subclass it in a module under ``scenarios/`` and set the ClassVars.

    ``prepare`` builds the workload once per scale (in the parent process);
    ``run`` measures one system on it and returns an :class:`Outcome`. ``run``
    executes in a forked child, so it may use as much memory as it likes and
    must not rely on state it sets on ``self``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    size_label: ClassVar[str] = "rows"
    systems: ClassVar[tuple[str, ...]]
    scales: ClassVar[dict[str, Scale]]
    metrics: ClassVar[tuple[Metric, ...]]
    #: Optional file formats accepted by ``--data`` (``()`` means no user data).
    data_formats: ClassVar[tuple[str, ...]] = ()

    def unavailable(self, system: str) -> str | None:
        """Why ``system`` cannot run here (e.g. no Postgres configured), or None.

        A reason means "skip it and say why". Raise a MinisysError instead when
        the user asked for the system and it is broken (e.g. a configured
        server that does not answer): that stops the run before any work.
        """
        return None

    def system_version(self, system: str) -> str:
        from minisys import __version__, baselines

        if system in baselines.SYSTEMS:
            return baselines.version(system) or "unknown"
        return f"minisys {__version__}"

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> Any:
        raise NotImplementedError(f"scenario {type(self).__name__} must implement prepare()")

    def data_scale(self, data: Path) -> Scale:
        """The scale a user's ``--data`` file stands for (its size read off the file)."""
        raise BadInput(f"scenario {self.name} takes no --data file")

    def run(self, system: str, workload: Any, scale: Scale, workdir: Path) -> Outcome:
        raise NotImplementedError(f"scenario {type(self).__name__} must implement run()")

    def figures(self, run_dir: Path, out_dir: Path) -> list[ExtraFigure]:
        """Draw figures the generic report cannot (called once results are written).

        The report plots every metric against scale; a paper figure with a
        different x axis (Dremel's time vs fields read) is drawn here from
        ``run_dir/results.json`` into ``out_dir`` and embedded in the report.
        """
        return []

    def notes(self) -> list[str]:
        """Anything a reader needs to interpret the numbers (durability, threads...)."""
        return []
