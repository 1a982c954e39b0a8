"""The job's output directory: R files, one per reduce task (paper §3.1, §3.3).

``DIR/part-00000`` ... hold ``json(key)<TAB>json(value)`` lines sorted by
key (§4.2). Reduce attempts write under ``DIR/_temporary`` and rename into
place (§3.3); ``_counters.json`` and, last of all, ``_SUCCESS`` are written
only when every reduce task has committed, so a reader that waits for
``_SUCCESS`` never sees partial output as final. A failed job removes what
it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minisys.errors import BadInput

SUCCESS = "_SUCCESS"
COUNTERS = "_counters.json"
TEMPORARY = "_temporary"


def prepare_output(path: str | os.PathLike[str]) -> Path:
    """Check and create the output directory, with a one-line error if we cannot."""
    out = Path(path).resolve()
    if out.exists():
        if not out.is_dir():
            raise BadInput(f"output {out}: exists and is not a directory")
        if any(out.iterdir()):
            raise BadInput(f"output {out}: directory exists and is not empty (remove it or pick another)")
    try:
        (out / TEMPORARY).mkdir(parents=True, exist_ok=True)
        probe = out / TEMPORARY / ".probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"output {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def commit_output(out: Path, counters: dict[str, Any]) -> None:
    tmp = out / TEMPORARY / COUNTERS
    tmp.write_text(json.dumps(counters, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / COUNTERS)
    shutil.rmtree(out / TEMPORARY, ignore_errors=True)
    (out / SUCCESS).write_bytes(b"")


def abort_output(out: Path) -> None:
    """Remove everything the job wrote (no partial output visible as final)."""
    for part in out.glob("part-*"):
        part.unlink(missing_ok=True)
    shutil.rmtree(out / TEMPORARY, ignore_errors=True)
    (out / COUNTERS).unlink(missing_ok=True)
    try:
        out.rmdir()
    except OSError:
        pass


def part_files(out: Path) -> list[Path]:
    return sorted(out.glob("part-*"))


def read_output(out: str | os.PathLike[str]) -> Iterator[tuple[Any, Any]]:
    """The (key, value) pairs of a finished job, file by file, in file order."""
    for part in part_files(Path(out)):
        with open(part, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("\t")
                yield json.loads(key), json.loads(value)
