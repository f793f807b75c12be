"""The package's layers point one way: every import, inside functions too, obeys one table.

``xfer_keras`` is built in layers (README, "Layout"). The base modules at the top level import
nothing above them; each package may import itself, the base and the packages :data:`ALLOWED`
names, and nothing else; no set of modules imports itself round in a circle. In particular the
explain path (``cli``, ``xfera``, ``emo``, ``explain``, ``models``) never imports ``training``
or ``evaluation``. The test reads the source (``import``, ``from ... import``, relative imports
and ``importlib.import_module("...")`` with a literal name), so an import hidden inside a
function counts as much as one at the top of a file. Only imports under ``if TYPE_CHECKING:``
(for type hints; never run) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xfer_keras"

#: package -> the packages it may import (besides itself and the base). Read top to bottom:
#: ``face`` needs only the base; ``data`` reads landmarks with ``face``; ``models`` read
#: ``data``'s image statistics; the two methods (``xfera``, ``emo``) build on attribution,
#: models, faces and frames; ``training`` and ``evaluation`` sit beside the methods; the web
#: app serves the methods, and the command line drives the methods and the web app, never the
#: training or evaluation code.
ALLOWED = {
    "base": set(),
    "face": set(),
    "video": {"face"},
    "data": {"face"},
    "narrate": set(),
    "models": {"data"},
    "explain": {"models", "face", "data"},
    "xfera": {"explain", "models", "face", "video", "narrate", "data"},
    "emo": {"explain", "models", "face", "video", "data"},
    "training": {"explain", "models", "face", "video", "data"},
    "evaluation": {"training", "xfera", "emo", "explain", "models", "face", "video", "narrate",
                   "data"},
    "web": {"xfera", "emo", "explain", "models", "face", "video", "narrate", "data"},
    "cli": {"web", "xfera", "emo", "explain", "models", "face", "video", "narrate", "data"},
}
#: Named imports allowed across the table, each with its reason.
EXCEPTIONS = {
    # the import hook registers the custom layers once Keras has loaded (by name, never at
    # ``import xfer_keras``), so that ``keras.saving.load_model`` resolves them
    ("xfer_keras.custom_objects", "xfer_keras.models.bam"),
}
EXPLAIN_PATH = ("cli", "web", "xfera", "emo", "explain", "models")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The package a module belongs to; top-level modules are the base (``__main__`` runs the
    command line)."""
    parts = module.split(".")
    if len(parts) == 2 and (PACKAGE / f"{parts[1]}.py").is_file():
        return "cli" if parts[1] == "__main__" else "base"
    return "base" if len(parts) == 1 else parts[1]


def _existing(name: str) -> str:
    """``name`` if it is a module of the package, else the longest module above it (for
    ``from pkg.mod import function``)."""
    parts = name.split(".")
    while parts:
        candidate = PACKAGE.parent.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    raise AssertionError(f"{name} is not a module of xfer_keras")


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """Every ``xfer_keras`` module that ``path`` (the module ``module``, by default the one its
    place in the package names) imports, wherever the import stands."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    type_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
                 for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        found.update(_existing(name) for name in names
                     if name == "xfer_keras" or name.startswith("xfer_keras."))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if there == here or (module, target) in EXCEPTIONS:
                continue
            if there == "base" and not (target == "xfer_keras" and here == "base"):
                continue
            if there not in ALLOWED[here]:
                bad.append(f"{module} ({here}) imports {target} ({there})")
    return bad


def test_every_module_belongs_to_a_layer_of_the_table():
    unknown = {layer_of(m) for m in import_graph()} - set(ALLOWED)
    assert not unknown, f"packages missing from ALLOWED: {sorted(unknown)}"


def test_no_import_runs_against_the_table():
    bad = violations(import_graph())
    assert not bad, "imports the layering table does not allow:\n" + "\n".join(bad)


def test_no_modules_import_each_other_in_a_circle():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_explain_path_never_imports_training_or_evaluation():
    graph = import_graph()
    reach = {m for m in graph if layer_of(m) in EXPLAIN_PATH}
    todo = list(reach)
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in reach:
                reach.add(target)
                todo.append(target)
    leaked = sorted(m for m in reach if layer_of(m) in ("training", "evaluation"))
    assert not leaked, f"reachable from the explain path: {leaked}"


@pytest.mark.parametrize("source, planted", [
    ("from xfer_keras.training.metrics import binary_metrics\n", "xfer_keras.training.metrics"),
    ("def f():\n    import xfer_keras.evaluation.dev_sets\n", "xfer_keras.evaluation.dev_sets"),
    ("def f():\n    from ..training import emo\n", "xfer_keras.training.emo"),
    ("import importlib\nimportlib.import_module('xfer_keras.training.image')\n",
     "xfer_keras.training.image"),
])
def test_the_reader_sees_an_upward_import_however_it_is_written(tmp_path, source, planted):
    """A planted import from ``models`` up to ``training`` or ``evaluation``, at the top, inside
    a function, relative, or by ``import_module``: the reader finds it and the table refuses it."""
    path = tmp_path / "planted.py"
    path.write_text(source)
    graph = {"xfer_keras.models.planted": imports_of(path, "xfer_keras.models.planted")}
    assert planted in graph["xfer_keras.models.planted"]
    assert violations(graph)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
