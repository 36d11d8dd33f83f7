"""Bad input to the command line gets a one-line error and loses nothing (a new user's audit): paths that cannot be
read or written, checked before the work they would waste (and, for `pull --remove`, before the board's file is
deleted), an input of the wrong shape, labels that do not match the model, bad option values."""
import json
import os
import shutil

import numpy as np
import pytest

from conftest import ROOT
from picoml import capture as C
from picoml import format, motion
from picoml.cli import main, parser
from picoml.deploy import Mpremote
from picoml.virtual_board import VirtualBoard

FRONTEND = ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite"     # int8 output of 40 values
GESTURE = ROOT / "models" / "gesture" / "gesture.pml"                          # input [1, 104, 6], 5 classes
DEVICE = ROOT / "device" / "picoml"


def one_line_error(capsys, *words):
    """The last command's stderr: one `picoml: error:` line (argparse's usage aside), no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, err)
    return lines[0]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    flash = tmp_path_factory.mktemp("board") / "flash"
    (flash / "lib").mkdir(parents=True)
    shutil.copytree(DEVICE, flash / "lib" / "picoml", ignore=shutil.ignore_patterns("__pycache__"))
    with VirtualBoard(flash) as b:
        yield b


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "gestures"
    motion.write_dataset(out, persons=1, seconds=2, gestures=("wave", "idle"), log=None)
    return out


def damaged_datasets(tmp_path):
    """--out values a dataset cannot be written to: a plain file, a folder whose index.json is cut short."""
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "index.json").write_text('{"format": "picoml-dataset", "version": 1, "recordings": [{"fi')
    return {afile: "mine\n", cut / "index.json": (cut / "index.json").read_text()}


# ---- 1. pull --remove: the board's file is deleted only once the dataset is written ----

def test_pull_remove_keeps_the_boards_file_when_the_dataset_cannot_be_written(board, tmp_path, capsys):
    Mpremote(board.port).exec("from picoml.recording import record, Synthetic\n"
                              "record('up', 0.2, source=Synthetic(3), rate=500, path='keep.pmr')\n")
    on_board = (board.flash / "keep.pmr").read_bytes()
    for path, content in damaged_datasets(tmp_path).items():
        out = path.parent if path.name == "index.json" else path
        assert main(["pull", "--port", board.port, "--path", "keep.pmr", "--out", str(out), "--remove"]) == 2
        one_line_error(capsys, str(out))
        assert (board.flash / "keep.pmr").read_bytes() == on_board, out      # nothing lost on the board
        assert path.read_text() == content                                      # nor on the host
    # into a dataset that takes it: written, then removed on the board
    out = tmp_path / "good"
    C.write_dataset(out, [C.Recording("before", 100.0, 1, "", np.zeros((5, 1), np.int16))], "test", log=print)
    assert main(["pull", "--port", board.port, "--path", "keep.pmr", "--out", str(out), "--remove"]) == 0
    assert not (board.flash / "keep.pmr").exists()
    index = json.loads((out / "index.json").read_text())["recordings"]
    assert [(e["label"], e["samples"]) for e in index] == [("before", 5), ("up", 100)]


def test_pull_remove_keeps_a_file_with_damaged_parts(board, tmp_path, capsys):
    """A recording file with a damaged part: the whole recordings go into the dataset, the skipped bytes exist only
    on the board, so --remove keeps the file there and says why."""
    Mpremote(board.port).exec("from picoml.recording import record, Synthetic\n"
                              "record('a', 0.2, source=Synthetic(3), rate=500, path='part.pmr')\n"
                              "record('b', 0.2, source=Synthetic(3), rate=500, path='part.pmr')\n")
    path = board.flash / "part.pmr"
    data = bytearray(path.read_bytes())
    data[len(data) // 4] ^= 0xff            # inside the first recording
    path.write_bytes(bytes(data))
    out = tmp_path / "data"
    assert main(["pull", "--port", board.port, "--path", "part.pmr", "--out", str(out), "--remove"]) == 0
    err = capsys.readouterr().err
    assert "kept part.pmr on the board" in err, err
    assert path.read_bytes() == bytes(data)
    labels = [e["label"] for e in json.loads((out / "index.json").read_text())["recordings"]]
    assert labels == ["b"]


# ---- 2. capture: the dataset folder is checked before recording ----

def test_capture_checks_the_dataset_before_recording(board, tmp_path, capsys, monkeypatch):
    def no_recording(*args, **kwargs):
        raise AssertionError("recorded for a dataset that cannot be written")
    monkeypatch.setattr(C, "capture", no_recording)
    for path, content in damaged_datasets(tmp_path).items():
        out = path.parent if path.name == "index.json" else path
        assert main(["capture", "--port", board.port, "--label", "x", "--seconds", "1", "--out", str(out)]) == 2
        one_line_error(capsys, str(out))
        assert path.read_text() == content
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["index.json"]


def test_capture_into_a_good_dataset_still_records(board, tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["capture", "--port", board.port, "--label", "x", "--seconds", "0.3", "--out", str(out)]) == 0
    assert [e["label"] for e in json.loads((out / "index.json").read_text())["recordings"]] == ["x"]


# ---- 3. paths that cannot be read or written: one line, checked before the work ----

def test_missing_or_unwritable_paths_are_one_line_errors(tmp_path, capsys, dataset):
    np.save(tmp_path / "x.npy", np.zeros((1, 104, 6), np.float32))
    (tmp_path / "afile").write_text("mine\n")
    cases = [
        (["convert", str(tmp_path / "nothere.tflite")], ["cannot read", "nothere.tflite"]),
        (["convert", str(FRONTEND), "-o", str(tmp_path / "nodir" / "a.pml")], ["nodir"]),
        (["convert", str(FRONTEND), "-o", str(tmp_path)], ["is a folder"]),
        (["run", str(GESTURE), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "nodir" / "y.npy")],
         ["nodir"]),
        (["run", str(GESTURE), "--input", str(tmp_path / "nothere.npy")], ["nothere.npy"]),
        (["plot", str(dataset), "-o", str(tmp_path / "nodir" / "p.png")], ["nodir"]),
        (["synth", "gesture", "--out", str(tmp_path / "afile"), "--count", "1", "--seconds", "1"], ["afile"]),
        (["synth", "gesture", "--out", str(tmp_path / "afile" / "sub"), "--count", "1", "--seconds", "1"],
         ["afile"]),
        (["inspect", str(tmp_path / "nothere.pml")], ["nothere.pml"]),
    ]
    if os.path.isdir("/proc"):
        cases.append((["convert", str(FRONTEND), "-o", "/proc/x.pml"], ["/proc/x.pml"]))
    for argv, words in cases:
        assert main(argv) == 2, argv
        one_line_error(capsys, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "x.npy"]
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_a_labels_file_that_is_not_text(tmp_path, capsys):
    assert main(["convert", str(FRONTEND), "--labels-file", str(GESTURE), "-o", str(tmp_path / "a.pml")]) == 2
    one_line_error(capsys, "not a text file")
    assert not (tmp_path / "a.pml").exists()


def test_train_checks_its_output_before_training(dataset, tmp_path, capsys, monkeypatch):
    from picoml import train

    def no_training(*args, **kwargs):
        raise AssertionError("trained for an output that cannot be written")
    monkeypatch.setattr(train, "train_gesture", no_training)
    for output in (tmp_path / "nodir" / "e.pml", tmp_path):
        assert main(["train", "gesture", str(dataset), "-o", str(output)]) == 2
        one_line_error(capsys, str(output))


def test_deploy_checks_the_model_before_opening_the_board(tmp_path, capsys, monkeypatch):
    from picoml.runtimes import serialport

    def no_board(port, work):
        raise AssertionError("the board was opened")
    monkeypatch.setattr(serialport, "on_port", no_board)
    assert main(["deploy", str(tmp_path / "nothere.pml"), "--port", "virtual"]) == 2
    one_line_error(capsys, "cannot read", "nothere.pml")
    assert main(["deploy", str(FRONTEND), "--port", "virtual"]) == 2
    one_line_error(capsys, "picoml convert")


def test_a_bad_noise_for_the_virtual_board_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["virtual", "--say", "yes", "--noise", "loud"])
    assert e.value.code == 2
    one_line_error(capsys, "--noise", "loud")


def test_an_os_error_anywhere_is_one_line(monkeypatch, capsys):
    """The safety net in main: an OSError a command meets is said in one line with its path."""
    from picoml import cli

    def fails(args):
        raise PermissionError(13, "Permission denied", "/some/where.pml")
    monkeypatch.setattr(cli, "cmd_inspect", fails)
    assert main(["inspect", "m.pml"]) == 2
    assert one_line_error(capsys) == "picoml: error: Permission denied: /some/where.pml"


def test_a_synthetic_speech_dataset_does_not_replace_another_datasets_index(dataset, capsys):
    before = (dataset / "index.json").read_text()
    assert main(["synth", "speech", "--out", str(dataset), "--count", "1"]) == 2
    one_line_error(capsys, "index.json")
    assert (dataset / "index.json").read_text() == before


# ---- 4. convert does not write over its input ----

def test_convert_refuses_to_overwrite_its_input(tmp_path, capsys):
    model = tmp_path / "g2.tflite"
    shutil.copy(FRONTEND, model)
    for output in (str(model), str(tmp_path / "." / "g2.tflite")):
        assert main(["convert", str(model), "-o", output]) == 2
        one_line_error(capsys, "is the model itself")
        assert model.read_bytes() == FRONTEND.read_bytes()


# ---- 5. run: the input's shape ----

def test_run_refuses_an_input_of_another_shape(tmp_path, capsys):
    np.save(tmp_path / "wrong.npy", np.zeros((1, 6, 104), np.float32))
    assert main(["run", str(GESTURE), "--input", str(tmp_path / "wrong.npy")]) == 2
    one_line_error(capsys, "[1, 6, 104]", "[1, 104, 6]")
    np.save(tmp_path / "squeezed.npy", np.zeros((104, 6), np.float32))       # size-1 axes aside, the same shape
    assert main(["run", str(GESTURE), "--input", str(tmp_path / "squeezed.npy")]) == 0
    assert "top: " in capsys.readouterr().out


def test_run_gives_a_flat_input_its_values_in_order(tmp_path, capsys):
    """The front-end takes [1, 480] samples (micro_speech [1, 1960] features): any shape of that many values is
    taken in order, as `picoml features`' [49, 40] rows are by micro_speech."""
    x = np.arange(480, dtype=np.int16).reshape(1, 24, 20)
    np.save(tmp_path / "x.npy", x)
    pml = tmp_path / "fe.pml"
    assert main(["convert", str(FRONTEND), "-o", str(pml)]) == 0
    np.save(tmp_path / "flat.npy", x.reshape(1, 480))
    for name in ("x.npy", "flat.npy"):
        assert main(["run", str(pml), "--input", str(tmp_path / name), "--output", str(tmp_path / ("out_" + name))]) \
            == 0
    assert np.array_equal(np.load(tmp_path / "out_x.npy"), np.load(tmp_path / "out_flat.npy"))


# ---- 6. bench: bad option values are argparse's errors ----

@pytest.mark.parametrize("argv, words", [
    (["--heapsize", "foo"], ["--heapsize", "foo"]),
    (["--heapsize", "0"], ["--heapsize"]),
    (["--backends", "foo"], ["--backends", "foo"]),
    (["--backends", "native,fast"], ["--backends", "fast"]),
    (["--backends", ","], ["--backends"]),
])
def test_bench_refuses_bad_heap_sizes_and_backends(argv, words, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", str(GESTURE)] + argv)
    assert e.value.code == 2
    one_line_error(capsys, *words)


def test_bench_takes_good_heap_sizes_and_backends():
    args = parser().parse_args(["bench", "m.pml", "--heapsize", "200K", "--backends", "native, viper"])
    assert (args.heapsize, args.backends) == ("200k", ["native", "viper"])
    assert parser().parse_args(["bench", "m.pml"]).backends == ["native", "viper", "python"]


@pytest.mark.parametrize("argv", [
    ["train", "gesture", "data", "-o", "m.pml"],
    ["synth", "gesture", "--out", "data"],
    ["virtual"],
])
@pytest.mark.parametrize("value", ["-1", "4294967296"])
def test_a_seed_numpy_cannot_take_is_an_argparse_error(argv, value, capsys):
    """A negative seed or one of 2**32 or more was numpy's traceback (train: after reading the dataset)."""
    with pytest.raises(SystemExit) as e:
        parser().parse_args(argv + ["--seed=" + value])
    assert e.value.code == 2
    one_line_error(capsys, "--seed", value)
    assert parser().parse_args(argv + ["--seed", "4294967295"]).seed == 2 ** 32 - 1


# ---- 7. convert: one label per class ----

def test_convert_refuses_labels_that_do_not_match_the_output(tmp_path, capsys):
    out = tmp_path / "fe.pml"
    assert main(["convert", str(FRONTEND), "--labels", "a,b", "-o", str(out)]) == 2
    one_line_error(capsys, "2 labels", "40 values")
    assert not out.exists()
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    assert main(["convert", str(FRONTEND), "--labels-file", str(tmp_path / "labels.txt"), "-o", str(out)]) == 2
    one_line_error(capsys, "3 labels")
    labels = ",".join("f%d" % i for i in range(40))
    assert main(["convert", str(FRONTEND), "--labels", labels, "-o", str(out)]) == 0
    assert format.load(out).metadata["labels"][-1] == "f39"


# ---- 8. run and inspect: what a file is, where an output goes ----

def test_run_and_inspect_say_what_a_file_is(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 104, 6), np.float32))
    assert main(["run", str(FRONTEND), "--input", str(tmp_path / "x.npy")]) == 2
    one_line_error(capsys, ".tflite", "picoml convert")
    rand = tmp_path / "rand.tflite"
    rand.write_bytes(np.random.default_rng(0).integers(0, 256, 3000).astype(np.uint8).tobytes())
    assert main(["inspect", str(rand)]) == 2
    one_line_error(capsys, "neither", ".pml", ".tflite")
    assert main(["run", str(rand), "--input", str(tmp_path / "x.npy")]) == 2
    one_line_error(capsys, "not a picoml model (.pml)")


def test_run_refuses_a_folder_as_output_and_an_npz_as_input(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.zeros((1, 104, 6), np.float32))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(GESTURE), "--input", "x.npy", "--output", "."]) == 2
    one_line_error(capsys, "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]        # no "..npy"
    np.savez(tmp_path / "x.npz", a=np.zeros((1, 104, 6), np.float32))
    assert main(["run", str(GESTURE), "--input", "x.npz"]) == 2
    one_line_error(capsys, ".npz", ".npy")
    assert main(["run", str(GESTURE), "--input", "x.npy", "--output", "y"]) == 0    # np.save's name: y.npy
    assert np.load(tmp_path / "y.npy").shape == (1, 5)


def test_capture_refuses_an_empty_label(tmp_path, capsys):
    assert main(["capture", "--port", "virtual", "--label", " ", "--seconds", "1", "--out", str(tmp_path / "d")]) == 2
    assert "--label is empty" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_synth_refuses_a_rate_no_imu_has(tmp_path, capsys):
    assert main(["synth", "gesture", "--out", str(tmp_path / "d"), "--rate", "1e9"]) == 2
    assert "an IMU samples at most" in capsys.readouterr().err


def test_run_on_a_board_leaves_nothing_on_its_flash(board, tmp_path):
    before = sorted(p.name for p in board.flash.iterdir())
    np.save(tmp_path / "x.npy", np.zeros((1, 104, 6), np.int8))
    assert main(["run", str(GESTURE), "--input", str(tmp_path / "x.npy"), "--port", board.port]) == 0
    assert main(["bench", str(GESTURE), "--port", board.port, "--backends", "native", "--count", "1"]) == 0
    assert sorted(p.name for p in board.flash.iterdir()) == before
