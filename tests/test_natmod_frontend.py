"""The small native module, without the ops only _picoml has (native_module/Makefile PML_FRONTEND=0,
build/natmod/<arch>-nofrontend/): `picoml deploy` installs it beside the full _picoml.mpy as _picoml_core.mpy, and
the library runs the models that need none of those ops on it (less code in the heap), the others on _picoml
(pml.native);
`picoml deploy --without-frontend` installs it alone, as _picoml.mpy. It runs every other model with the same
bytes as the full module, refuses a model that needs a front-end op with a ValueError naming the op, and deploy
refuses to install it alone beside such a model. Its heap cost: tests/test_heap_overhead.py."""
import numpy as np
import pytest

import models
from picoml import dist, format, optable, reference, resources
from picoml.deploy import Mpremote, deploy
from picoml.errors import PicomlError
from picoml.runtimes import qemu, unix
from picoml.virtual_board import VirtualBoard

LOAD = """
import picoml
for source in %(paths)r:
    try:
        m = picoml.load(source)
        print("OK", m.backend, list(m.predict(bytes(%(x)r))) if source == %(paths)r[0] else "")
    except ValueError as e:
        print("REFUSED", e)
"""


def kws_and_input(tmp_path):
    path = tmp_path / "kws.pml"
    path.write_bytes(models.pml("kws_ref_model"))
    model = format.read(path.read_bytes())
    x = np.arange(490, dtype=np.int64).astype(np.int8).reshape(1, 49, 10, 1)
    return path, model, x


def check_output(out, model, x):
    lines = [line for line in out.splitlines() if line.startswith(("OK", "REFUSED"))]
    assert len(lines) == 2, out
    assert lines[0].startswith("OK native "), out
    assert eval(lines[0].split(" ", 2)[2]) == reference.run(model, [x])[0].reshape(-1).tolist()
    # the front-end's first op is SIGNAL_WINDOW
    assert lines[1] == ("REFUSED picoml: op 0 (SIGNAL_WINDOW) is not in this _picoml native module: it is the small "
                        "one, without the audio front-end's ops, MUL, CONCATENATION, PAD and SUB (deploy the full one: "
                        "`picoml deploy` without --without-frontend), or older than this picoml; backend='python' "
                        "runs the model"), out


def test_the_frontend_ops_are_the_front_end_models_ops():
    """The op set left out is exactly what the audio front-end's model uses that no network op is."""
    used = {op.name for op in format.read(resources.frontend_model().read_bytes()).ops}
    assert used <= optable.FRONTEND_OPS | {"CONCATENATION", "PAD", "LUT", "MUL"}, used
    assert all(op.name.startswith("SIGNAL_") for op in optable.OPS if op.frontend and op.code <= 21)
    assert not any(op.frontend for op in optable.OPS if op.code <= 12)


@pytest.mark.parametrize("target", ["unix", "m4"])
def test_runs_ds_cnn_and_refuses_the_front_end_naming_its_op(tmp_path, target):
    path, model, x = kws_and_input(tmp_path)
    frontend = resources.frontend_model()
    if target == "unix":
        source = LOAD % {"paths": [str(path), str(frontend)], "x": x.tobytes()}
        out = unix.run_script(source, natmod=resources.natmod_dir("x64", frontend=False))
    else:
        source = LOAD % {"paths": [str(path), str(frontend)], "x": x.tobytes()}
        out = qemu.run_script(source, "m4", natmod=resources.natmod_dir("armv7emsp", frontend=False))
    check_output(out, model, x)


def test_the_full_module_runs_the_front_end(tmp_path):
    out = unix.run_script("import picoml\nm = picoml.load(%r)\nprint('OK', m.backend)"
                          % str(resources.frontend_model()), natmod=True)
    assert "OK native" in out


FORGET = """
for k in [k for k in sys.modules if "picoml" in k]:
    del sys.modules[k]
"""
CHOICE = """
import sys
%(first)s
import picoml
for source in %(paths)r:
    m = picoml.load(source if source.endswith(".pml") else open(source[:-1], "rb").read())
    loaded = sorted(k for k in sys.modules if k.startswith("_picoml"))
    runs_on = [k for k in loaded if type(m._native) is sys.modules[k].Model]
    print("NATIVE", m.backend, runs_on[0], "of", " ".join(loaded))
"""


@pytest.mark.parametrize("name, module", [("pad_gap", "_picoml"), ("concat", "_picoml"), ("multiply", "_picoml"),
                                          ("subtract", "_picoml"), ("depthwise_variants", "_picoml"),
                                          ("residual_add", "_picoml_core"), ("imu_gap", "_picoml_core"),
                                          ("reduce_max_variants", "_picoml_core")])
def test_a_model_with_an_op_only_the_full_module_has_loads_the_full_module(tmp_path, name, module):
    """PAD, CONCATENATION, MUL, SUB (not in _picoml_core) and a depth multiplier above 1 (its M4 SIMD path is only
    in _picoml) load _picoml alone; the others (REDUCE_MAX is MAX_POOL_2D) _picoml_core alone (tests/test_runtimes.py
    runs every generated model with the reference's bytes)."""
    model, blob = models.model(name)
    path = tmp_path / (name + ".pml")
    path.write_bytes(blob)
    wants = any(op.name in optable.FULL_ONLY_OPS or (op.name == "DEPTHWISE_CONV_2D" and op.params["depth_multiplier"] > 1)
                for op in model.ops)
    assert wants == (module == "_picoml"), [(op.name, op.params) for op in model.ops]
    out = unix.run_script(CHOICE % {"first": "", "paths": [str(path)]}, natmod=True)
    assert "NATIVE native %s of %s\n" % (module, module) in out, out


@pytest.mark.parametrize("target", ["unix", "m4"])
def test_the_library_imports_the_module_without_the_front_end_for_a_model_that_needs_none_of_its_ops(
        tmp_path, target):
    """Both modules where `picoml deploy` puts them: DS-CNN (from a file, then from bytes: the path ends in "b")
    on _picoml_core alone; the front-end on _picoml; once _picoml is there, every model on it, DS-CNN included;
    with picoml.audio imported first, DS-CNN on _picoml (a keyword model and its front-end on one module, not
    two)."""
    path, model, x = kws_and_input(tmp_path)
    frontend = str(resources.frontend_model())
    cases = [("", [str(path), str(path) + "b", frontend, str(path)],
              ["native _picoml_core of _picoml_core", "native _picoml_core of _picoml_core",
               "native _picoml of _picoml _picoml_core", "native _picoml of _picoml _picoml_core"]),
             ("from picoml import audio", [str(path), frontend],
              ["native _picoml of _picoml", "native _picoml of _picoml"])]
    for first, paths, expected in cases:
        source = CHOICE % {"first": first, "paths": paths}
        if target == "unix":
            out = unix.run_script(source, natmod=True)
        else:
            out = qemu.run_script(source, "m4")
        assert [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("NATIVE")] == expected, out


def test_a_damaged_op_table_falls_back_to_the_full_module_and_is_refused_as_before(tmp_path):
    """native() reads the op table before the file is checked: a damaged one names _picoml (never a crash), and
    the loader's refusal is the one it was."""
    blob = bytearray(models.pml("kws_ref_model"))
    cases = []
    for offset, value in ((36, 0xFFFFFFF0), (18, 0xFFFF), (32, 0x7FFFFFF0), (32, 3)):
        damaged = bytearray(blob)
        damaged[offset:offset + 4] = value.to_bytes(4, "little")
        name = tmp_path / ("damaged_%d.pml" % len(cases))
        name.write_bytes(bytes(damaged))
        cases.append(str(name))
    source = LOAD.replace("except ValueError", "except (OSError, ValueError)") % {
        "paths": [str(tmp_path / "none.pml")] + cases, "x": b""}
    out = unix.run_script(source, natmod=True)
    assert out.count("REFUSED") == len(cases) + 1, out
    assert "ENOENT" in out and "corrupt .pml" in out, out


@pytest.mark.parametrize("arch", sorted(a for a, shipped in dist.BUILDS.items() if shipped))
def test_each_board_arch_has_it_and_it_is_smaller(arch):
    full, small = resources.natmod(arch), resources.natmod(arch, frontend=False)
    assert dist.mpy_header(small.read_bytes())[2] == arch
    assert small.stat().st_size < full.stat().st_size


def test_deploy_refuses_it_for_a_model_that_needs_a_front_end_op_before_touching_the_board(tmp_path):
    with pytest.raises(PicomlError, match=r"needs SIGNAL_WINDOW \(op 0\), which the native module "
                                          r"--without-frontend leaves out"):
        deploy(str(resources.frontend_model()), "/dev/no-such-port", frontend=False)
    with pytest.raises(PicomlError, match="not with --build or --model-only"):
        deploy(None, "/dev/no-such-port", frontend=False, library=False)


@pytest.mark.slow
def test_deploy_without_frontend_to_the_virtual_board(tmp_path):
    path, model, x = kws_and_input(tmp_path)
    with VirtualBoard(tmp_path / "flash") as board:
        log = []
        assert deploy(str(path), board.port, log=log.append) == "x64_6.3"
        lib = tmp_path / "flash" / "lib"
        assert (lib / "_picoml.mpy").read_bytes() == resources.natmod("x64").read_bytes()
        assert (lib / dist.NATIVE_CORE).read_bytes() == resources.natmod("x64", frontend=False).read_bytes()
        out = Mpremote(board.port).exec(CHOICE % {"first": "", "paths": ["kws.pml", "lib/picoml/" + dist.FRONTEND]}
                                        + FORGET)
        assert ("NATIVE native _picoml_core of _picoml_core\nNATIVE native _picoml of _picoml _picoml_core"
                in out.replace("\r", "")), out
        log = []
        assert deploy(str(path), board.port, log=log.append, frontend=False) == "x64_6.3"
        assert any("only the small native module" in line for line in log), log
        assert (lib / "_picoml.mpy").read_bytes() == resources.natmod("x64", frontend=False).read_bytes()
        assert not (lib / dist.NATIVE_CORE).exists()        # an earlier deploy's is removed
        out = Mpremote(board.port).exec(LOAD % {"paths": ["kws.pml", "lib/picoml/" + dist.FRONTEND],
                                                "x": x.tobytes()})
    check_output(out, model, x)
