from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

# Jobs are referenced by import path ("mr_testjobs:WordCount"), as users do;
# this directory is a package (tests/mapreduce/__init__.py keeps test module
# names unique across tests/), so put it on sys.path for the job module.
sys.path.insert(0, str(Path(__file__).parent))


def write_text(path: Path, lines: int, seed: int = 1, words_per_line: int = 8, vocab: int = 500) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(lines):
            f.write(" ".join(f"w{int(rng.paretovariate(1.2)) % vocab}" for _ in range(words_per_line)) + "\n")
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    return write_text(tmp_path / "input.txt", 20_000)
