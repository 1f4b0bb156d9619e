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
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


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


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_rendering_reads_no_database_runs_no_engine_and_calls_no_service():
    """workflows/rendering turns plain values into HTML, SVG, PDF or spreadsheet cells; the services call
    it, never the other way round, and it knows nothing of HTTP."""
    edges, _ = _module_graph("workflows")
    below = ("workflows.services", "workflows.capabilities", "workflows.commands", "workflows.engine",
             "workflows.models", "workflows.db")
    rendering = [m for m in edges if _within(m, "workflows.rendering")]
    assert "workflows.rendering.documents" in rendering
    for module in rendering:
        assert not [t for t in edges[module] if _within(t, *below)], module
    for path in (ROOT / "workflows" / "rendering").rglob("*.py"):
        assert not _imports(path) & {"webapp", "flask", "sqlalchemy", "SpiffWorkflow"}, path


def _imported_modules(path: Path) -> set[str]:
    """The dotted names `path` imports: `from workflows import audit` is workflows.audit."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                is_module = (ROOT / full.replace(".", "/")).with_suffix(".py").exists() \
                    or (ROOT / full.replace(".", "/") / "__init__.py").exists()
                names.add(full if is_module else node.module)
    return names


def test_the_json_apis_call_the_services_only():
    """webapp/api (the service API, the filing API, the OpenAPI document) reaches workflows through the
    service functions and the capabilities, with their permission checks, and the filing exchange's wire
    protocol (signatures); never the tables, the engine or the database."""
    allowed = ("workflows.services", "workflows.capabilities", "workflows.errors", "workflows.filing_exchange")
    paths = sorted((ROOT / "webapp" / "api").rglob("*.py"))
    assert ROOT / "webapp" / "api" / "service_api.py" in paths
    for path in paths:
        reached = {name for name in _imported_modules(path) if _within(name, "workflows")}
        assert {name for name in reached if not _within(name, *allowed)} == set(), path


def test_create_app_is_a_short_list_of_calls():
    """Each concern of the app's set-up (configuration, the service behind it, extensions, blueprints,
    template helpers, request guards, error pages) is a function in a module named for it; create_app
    only calls them, in order."""
    tree = ast.parse((ROOT / "webapp" / "__init__.py").read_text(encoding="utf-8"))
    create_app = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "create_app")
    nested = [n for n in ast.walk(create_app) if n is not create_app
              and isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.Try, ast.With))]
    assert nested == [] and len(create_app.body) <= 15
