"""The C side agrees with the host's single sources of truth, and the native module builds and loads."""
import subprocess

from conftest import ROOT
from picoml import optable, rules, viper_source

NATMOD_X64 = ROOT / "build" / "natmod" / "x64" / "_picoml.mpy"


def test_files_generated_from_the_op_table_are_current():
    for path, text in optable.generated_files().items():
        assert (ROOT / path).read_text() == text, "%s is stale: run python -m picoml.optable" % path
        assert optable.GENERATED in (text.splitlines()[0] if path != "device/picoml/pml.py" else text)


def test_files_generated_from_the_rules_table_are_current():
    """native_module/rules.h, and the tables, words and rule codes (each a number followed by its name in a comment)
    of device/picoml/validate.py and refusal.py are those of host/picoml/rules.py."""
    files = rules.generated_files()
    for path, text in files.items():
        assert (ROOT / path).read_text() == text, "%s is stale: run python -m picoml.rules" % path
    named = [line for line in files["device/picoml/validate.py"].splitlines() if rules._RULE_USE.match(line)]
    assert len(named) > 50 and rules.GENERATED in files["native_module/rules.h"].splitlines()[0]


def test_viper_kernels_written_from_their_template_are_current():
    """device/picoml/kernels_viper.py is device/templates/kernels_viper.py with its `#: NAME` lines expanded (the
    requantization and the clamp, written once there: test_device_viper.py checks every kernel has them)."""
    text = viper_source.generated_files()[viper_source.TARGET]
    assert (ROOT / viper_source.TARGET).read_text() == text, "%s is stale: run python -m picoml.viper_source" % (
        viper_source.TARGET)
    assert text.splitlines()[0] == viper_source.GENERATED and "#:" not in text


def test_x64_module_header():
    """A .mpy starts with 'M', the .mpy version (6), flags (sub-version 3 in the low bits) and the arch in the
    top bits of the next byte (x64 = 2)."""
    header = NATMOD_X64.read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == 6
    assert header[2] >> 2 == 2 and header[2] & 3 == 3


def test_x64_module_loads_and_refuses_garbage(tmp_path):
    """_picoml.Model refuses what is not a model with ValueError(op, tensor, rule, detail, value), a buffer at an
    odd address naming the alignment."""
    script = tmp_path / "s.py"
    script.write_text("import sys\nsys.path.insert(0, %r)\nimport _picoml\n"
                      "bad = bytearray(64)\nbad[16] = 1\nbad[28] = 64\n"     # one tensor, its table past the end
                      "for model, arena in ((b'x' * 10, bytearray(4)), (bad, bytearray(4)),\n"
                      "                     (memoryview(bytearray(68))[1:], bytearray(4))):\n"
                      "    try:\n        _picoml.Model(model, arena)\n    except ValueError as e:\n"
                      "        print(repr(e.args))\n" % str(NATMOD_X64.parent))
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "(-1, -1, %d, -1, 10)" % rules.RULE["SHORT"]
    assert lines[1] == "(-1, -1, %d, -1, 64)" % rules.RULE["TENSORS_SECTION"]
    assert "aligned" in lines[2] and "alignment" in lines[2]
