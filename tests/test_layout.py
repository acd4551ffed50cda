"""The rooms keep their doors: edge/ has no Qt and no MQTT, no module reaches into another's
underscored names, and the shipped packages do not import the harnesses in bench/."""
import ast
from pathlib import Path

from conftest import ROOT

SHIPPED = ("edge", "sync", "ui", "signage", "models")


def _modules(*roots):
    for r in roots:
        for path in sorted((ROOT / r).rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                yield ("." * node.level) + (node.module or ""), a.name


def test_edge_imports_no_qt_and_no_mqtt():
    bad = [(str(p.relative_to(ROOT)), m) for p, t in _modules("edge") for m, _ in _imports(t)
           if m.split(".")[0] in ("PySide6", "paho", "ui", "sync", "bench", "signage")]
    assert bad == []


def test_no_module_imports_another_modules_underscored_names():
    bad = [(str(p.relative_to(ROOT)), m, n) for p, t in _modules(*SHIPPED, "bench")
           for m, n in _imports(t) if n and n.startswith("_") and n != "__version__"]
    assert bad == []


def test_shipped_packages_do_not_import_the_harnesses():
    bad = [(str(p.relative_to(ROOT)), m) for p, t in _modules(*SHIPPED) for m, _ in _imports(t)
           if m.startswith("bench.harness") or m.split(".")[0] in ("tests", "conftest")]
    assert bad == []


def test_every_room_says_what_comes_in_and_what_goes_out():
    for room in ("vision", "catalog", "styling", "live"):
        doc = ast.get_docstring(ast.parse((ROOT / "edge" / room / "__init__.py").read_text()))
        assert doc and " in" in doc and " out" in doc, room
