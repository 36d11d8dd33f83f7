"""stubs/ describes the device API: every public function, class and method of the stubbed device modules is
in its stub, and the stubs are valid Python."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
STUBS = sorted((ROOT / "stubs" / "picoml").rglob("*.pyi"))


def _public(tree):
    """{name: set of public method names} of the top-level functions and classes."""
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            methods = {n.name for n in getattr(node, "body", []) if isinstance(n, ast.FunctionDef)
                       and not n.name.startswith("_")} if isinstance(node, ast.ClassDef) else set()
            names[node.name] = methods
    return names


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: str(p.relative_to(ROOT / "stubs")))
def test_stub_covers_its_device_module(stub):
    rel = stub.relative_to(ROOT / "stubs").with_suffix(".py")
    source = ROOT / "device" / rel
    assert source.exists(), "%s stubs a module that does not exist" % stub
    device = _public(ast.parse(source.read_text()))
    stubbed = _public(ast.parse(stub.read_text()))
    missing = sorted(set(device) - set(stubbed))
    assert not missing, "%s lacks %s" % (stub.name, missing)
    for name, methods in device.items():
        lacking = sorted(methods - stubbed[name])
        assert not lacking, "%s: %s lacks %s" % (stub.name, name, lacking)
