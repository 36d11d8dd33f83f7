"""The C side agrees with the host's single sources of truth, and the native module builds and loads."""
import subprocess

from conftest import ROOT
from picoml import optable

NATMOD_X64 = ROOT / "build" / "natmod" / "x64" / "_picoml.mpy"


def test_files_generated_from_the_op_table_are_current():
    for path, text in optable.generated_files().items():
        assert (ROOT / path).read_text() == text, "%s is stale: run python -m picoml.optable" % path
        assert optable.GENERATED in text.splitlines()[0]


def test_x64_module_header():
    """A .mpy starts with 'M', the .mpy version (6), flags (sub-version 3 in the low bits) and the arch in the
    top bits of the next byte (x64 = 2)."""
    header = NATMOD_X64.read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == 6
    assert header[2] >> 2 == 2 and header[2] & 3 == 3


def test_x64_module_loads_and_refuses_garbage(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nsys.path.insert(0, %r)\nimport _picoml\n"
                      "print(_picoml.check(b'x' * 10, 0), _picoml.check(bytearray(64), 0))\n"
                      "print(_picoml.invoke(bytearray(70), bytearray(3)))\n" % str(NATMOD_X64.parent))
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["-1", "-1", "-1"]
