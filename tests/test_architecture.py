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


def _module_graph(package: str) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """{module: modules of `package` it imports, anywhere in it (an import inside a function hides a cycle
    from Python, not from this graph)}, and (importer, module, name) for each private name imported."""
    modules = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*here.split(".")[: len(here.split(".")) - node.level + 1], *filter(None, [base])])
                for alias in node.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if target in modules:
                        edges[name].add(target)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and base in modules \
                            and target == base and base != name:
                        private.append((name, base, alias.name))
        edges[name].discard(name)
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = _pop_component(stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _pop_component(stack: list[str], root: str) -> list[str]:
    """The modules on the stack down to the component's root, taken off it."""
    component = []
    while True:
        other = stack.pop()
        component.append(other)
        if other == root:
            return component


def test_no_import_cycles_among_the_modules_of_workflows_and_webapp():
    for package in ("workflows", "webapp"):
        edges, _ = _module_graph(package)
        assert _cycles(edges) == [], package


def test_no_module_imports_another_modules_private_names():
    for package in ("workflows", "webapp"):
        _, private = _module_graph(package)
        assert private == [], package


def test_the_names_of_audit_actions_are_one_table():
    tables = [path for package in ("workflows", "webapp") for path in (ROOT / package).rglob("*.py")
              if "\nACTION_NAMES = " in path.read_text(encoding="utf-8")]
    assert tables == [ROOT / "workflows" / "action_names.py"]


def test_the_engine_core_reaches_the_capabilities_only_through_the_operator_table():
    """The core (workflows/engine, workflows/services: start, step, task index, audit) never imports a
    capability (workflows/capabilities: filing, tracking, rewards, complaints, documents); the service package
    loads them so their operators register, and the project page puts core and capabilities together."""
    edges, _ = _module_graph("workflows")
    allowed = {"workflows.services", "workflows.services.project_service"}
    for module, targets in edges.items():
        if module.startswith(("workflows.services", "workflows.engine")) and module not in allowed:
            assert not [t for t in targets if t.startswith("workflows.capabilities")], module
