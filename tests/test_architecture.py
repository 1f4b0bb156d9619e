"""The layering of DESIGN.md: webapp → workflows → database; the webapp never touches the engine or ORM."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_webapp_never_imports_sqlalchemy_or_spiffworkflow():
    for path in (ROOT / "webapp").rglob("*.py"):
        assert not _imports(path) & {"sqlalchemy", "SpiffWorkflow"}, path


def test_only_the_engine_package_imports_spiffworkflow():
    allowed = ROOT / "workflows" / "engine"
    for path in (ROOT / "workflows").rglob("*.py"):
        if allowed not in path.parents:
            assert "SpiffWorkflow" not in _imports(path), path
