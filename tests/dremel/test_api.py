import subprocess
import sys

from dremel_paper import DOCUMENT, R1, R2


def test_package_exposes_the_python_api():
    from minisys.dremel import Schema, Table, assemble, stripe

    schema = Schema.parse(DOCUMENT)
    assert assemble(schema, stripe(schema, [R1, R2])) == [R1, R2]
    assert Table.from_records(schema, [R1, R2]).query("SELECT COUNT(*) AS n FROM t").records() == [{"n": 2}]


def test_cli_group_import_does_not_load_pyarrow():
    code = "import sys, minisys.dremel.cli; print('pyarrow' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
