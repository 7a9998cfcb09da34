"""Private helpers are named for what they are: no two modules of the package define a private function under the same
name (a shared job has one helper; different jobs have different names)."""
import ast
from collections import defaultdict

from conftest import ROOT

PACKAGE = ROOT / "code" / "workbook"


def test_private_helpers_have_distinct_names():
    where = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_") and not node.name.startswith("__"):
                where[node.name].append(path.relative_to(PACKAGE).as_posix())
    shared = {name: files for name, files in where.items() if len(files) > 1}
    assert shared == {}, shared
