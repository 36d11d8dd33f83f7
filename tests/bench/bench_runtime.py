"""Benchmark (prints numbers, asserts nothing): the DS-CNN keyword model and a small 1-D conv IMU model on every
device backend in the MicroPython unix port, the numpy reference, heap per inference and RAM after load.

    .venv/bin/python tests/bench/bench_runtime.py [--count N]
"""
import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import models  # noqa: E402
from picoml.cli import main  # noqa: E402


def run(count):
    for title, path in (("DS-CNN keyword spotting (MLPerf Tiny kws_ref_model)", models.tflite("kws_ref_model")),
                        ("IMU: 128x3 -> two Conv1D -> pooling -> two Dense (tests/genmodels.py imu_gap)",
                         models.tflite("imu_gap"))):
        print("==", title)
        main(["bench", str(path), "--count", str(count)])
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    run(parser.parse_args().count)
