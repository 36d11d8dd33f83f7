"""The device library with the C native module (_picoml.mpy, x64) in the unix port: chosen automatically, and an
armv7emsp module refused with the right build named. (Every model's bytes on this backend: test_runtimes.py.)"""
import models
from conftest import device
from picoml import resources


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
