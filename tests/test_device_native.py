"""The device library with the C native module (_picoml.mpy, x64) in the unix port: chosen automatically, and an
armv7emsp module refused with the right build named. (Every model's bytes on this backend: test_runtimes.py.)"""
import models
from conftest import device
from picoml import format, resources
from picoml.runtimes import c as c_runtime


def test_native_is_chosen_automatically_and_reports_itself(tmp_path):
    path = tmp_path / "kws.pml"
    path.write_bytes(models.pml("kws_ref_model"))
    r = device("backend_choice", path, natmod=True)
    assert r["auto"] == ["native", []] and r["forced"] is None


def test_wrong_arch_module_is_refused_with_the_right_build_named(tmp_path):
    """An armv7emsp _picoml.mpy on the x64 unix port: forced native says which build is needed; auto falls back."""
    arm = resources.natmod_dir("armv7emsp") / "_picoml.mpy"
    assert arm.exists(), "run make natmod"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "_picoml.mpy").write_bytes(arm.read_bytes())
    path = tmp_path / "kws.pml"
    path.write_bytes(models.pml("kws_ref_model"))
    r = device("backend_choice", path, natmod=tmp_path / "mods")
    assert "x64" in r["forced"], r["forced"]
    assert r["auto"][0] in ("viper", "python")


def test_scratch_is_placed_at_load_and_reported(tmp_path):
    """The native Model places the kernels' scratch once at load, as pml_check does on its core: in the arena's free
    bytes where they have room, the rest in a buffer apart. On x64 the same C as the host library, so info() reports
    the host library's buffer apart: none for DS-CNN, whose convolutions' columns (more than 0 bytes) all fit."""
    blob = models.pml("kws_ref_model")
    (tmp_path / "kws.pml").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(bytes(490))
    model = format.read(blob)
    lib = c_runtime.load()
    status, largest = c_runtime.check(lib, blob, model.arena_size)
    status_placed, apart = c_runtime.scratch_apart(lib, blob, model.arena_size)
    assert status == status_placed == 0 and largest > 0 and apart == 0
    info = device("describe", tmp_path / "kws.pml", tmp_path / "x.bin", "native", natmod=True)["info"]
    assert info["backend"] == "'native'" and info["scratch_bytes"] == str(apart)


def test_the_buffer_of_a_model_read_from_a_file_cannot_be_changed(tmp_path):
    """The native module validates a model once, at load, and runs it unchecked. A model read from a file used to be
    a bytearray reachable as Model.buffer: writing every tensor's offset far outside the arena through it, then
    predict, crashed the interpreter (SIGSEGV). The file is now read into bytes: the write is refused."""
    path = tmp_path / "kws.pml"
    path.write_bytes(models.pml("kws_ref_model"))
    for backend in ("native", "python"):
        r = device("buffer_mutation", path, backend, natmod=True)
        assert r == {"refused": ["TypeError", "TypeError"], "same": True, "type": "bytes"}, (backend, r)
