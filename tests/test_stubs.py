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


def _defined(tree):
    """The names a module defines or imports at its top level (also inside if/try: clock.py's fallbacks)."""
    names = set()
    body = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try)):
            body.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                body.extend(handler.body)
    return names


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: str(p.relative_to(ROOT / "stubs")))
def test_every_stubbed_class_and_function_exists_on_the_device(stub):
    """The reverse: a class or function a stub declares is a name of its device module. (sensors/__init__.pyi
    declared class IMU, which `from picoml.sensors import IMU` does not find on the board: it is in
    picoml.sensors.base, stubbed there now.)"""
    rel = stub.relative_to(ROOT / "stubs").with_suffix(".py")
    device = _defined(ast.parse((ROOT / "device" / rel).read_text()))
    declared = {node.name for node in ast.parse(stub.read_text()).body
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}
    assert not declared - device, "%s declares %s, which %s does not have" % (stub.name, sorted(declared - device),
                                                                             rel)
