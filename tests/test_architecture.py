"""The package's layering, read from its imports (every ``import`` statement, top-level or inside a
function): a floor that imports no wing, wings that import each other only where a method needs it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hf_reft"

#: The shared floor: modules and packages every wing may use.
FLOOR = {
    "_lazy",
    "answers",
    "cli_arguments",
    "data",
    "generation",
    "hub",
    "metrics",
    "models",
    "results",
    "sandbox",
    "stats",
    "training_budget",
}
WINGS = {"representation", "reinforced", "reftool", "space"}
#: The wing-to-wing edges a method needs: adapter policies (reinforced → representation) and the
#: RefTool demo (space → reftool).
ALLOWED_WING_EDGES = {("reinforced", "representation"), ("space", "reftool")}
DISPATCHER = {"cli", "__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent / dotted.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported(path: Path) -> set[str]:
    """The ``hf_reft`` modules ``path`` imports; ``from package import module`` counts as the module."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "hf_reft"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(
                    package[: len(package) - node.level + 1] + ([node.module] if node.module else [])
                )
            elif node.module and node.module.split(".")[0] == "hf_reft":
                base = node.module
            else:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
    return found


def _part(module: str) -> str:
    """The top-level part of the package a module belongs to (``"hf_reft"`` for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hf_reft"


def _edges() -> set[tuple[str, str, str]]:
    """``(importing part, imported part, "importer -> imported")`` for every import across parts."""
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        source = _module_name(path)
        for target in _imported(path):
            if _part(source) != _part(target):
                edges.add((_part(source), _part(target), f"{source} -> {target}"))
    return edges


def test_every_part_of_the_package_is_classified():
    parts = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert parts - {"__init__"} == FLOOR | WINGS | DISPATCHER


def test_the_floor_imports_no_wing_and_not_the_dispatcher():
    bad = sorted(
        e for a, b, e in _edges() if a in FLOOR and (b in WINGS or b in DISPATCHER or b == "hf_reft")
    )
    assert bad == []


def test_wings_import_each_other_only_where_a_method_needs_it():
    bad = sorted(e for a, b, e in _edges() if a in WINGS and b in WINGS and (a, b) not in ALLOWED_WING_EDGES)
    assert bad == []


def test_no_wing_imports_the_dispatcher():
    assert sorted(e for a, b, e in _edges() if a in WINGS and b in DISPATCHER) == []


def test_the_sandbox_imports_nothing_else_of_the_package():
    assert sorted(e for a, b, e in _edges() if a == "sandbox") == []


def test_the_checker_sees_a_forbidden_edge(tmp_path, monkeypatch):
    # the test above would fail if reftool imported representation, even inside a function
    source = "def f():\n    from ..representation import ReftConfig\n"
    path = PACKAGE / "reftool" / "creation.py"
    real = Path.read_text

    def read_text(self, *args, **kwargs):
        return source if self == path else real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert ("reftool", "representation", "hf_reft.reftool.creation -> hf_reft.representation") in _edges()
