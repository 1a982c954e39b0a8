"""The README's two commands are the project's contract; CI must run the same one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert "scenario run" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_python_examples_run_as_written(tmp_path):
    """Each ```python block, saved as a script and run the way a user would."""
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.+?)\n```", text, flags=re.S)
    assert len(blocks) >= 4
    out = ""
    for i, block in enumerate(blocks):
        script = tmp_path / f"example_{i}.py"
        script.write_text(block + "\n")
        res = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True)
        assert res.returncode == 0, f"README example {i} failed:\n{block}\n{res.stderr}"
        out += res.stdout
    assert "frozenset({'apple'})" in out and "[('b',)]" in out
    assert "('the', 3)" in out
