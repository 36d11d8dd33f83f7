"""The fuzzer (picoml.fuzz, docs/fuzzing.md): its cases are reproducible and reach the parser, its runner pins a
crash or a hang to the case that caused it, valid models pass every target, and every file the fuzzer ever
failed on (tests/fuzz_regressions/) is run on every target."""
import pathlib
import sys

import pytest

from picoml import format, fuzz
from picoml.errors import FormatError

SEEDS_PER_TARGET = 6


def test_cases_are_reproducible_and_reach_the_parser():
    target = fuzz.TARGETS["native"]
    maker = fuzz.CaseMaker(target, fuzz.seeds(target), "t")
    cases = [maker.case(i) for i in range(3000)]        # every mutation, stacked, on every seed model
    again = fuzz.CaseMaker(target, fuzz.seeds(target), "t")
    assert all(again.case(i)[0] == cases[i][0] for i in (0, 17, 2999))
    assert len({c[0] for c in cases}) > 0.97 * len(cases)   # (almost) every case is a different file
    passed = 0
    for blob, _, _ in cases:
        try:
            format.read_header(blob)
            passed += 1
        except FormatError:
            pass
    assert passed > 0.85 * len(cases)       # size and CRC recomputed: most edits get past the header checks
    target = fuzz.TARGETS["convert"]
    maker = fuzz.CaseMaker(target, fuzz.seeds(target), "t")
    assert len({maker.case(i)[0] for i in range(1000)}) > 970


class FakeTarget(fuzz.Target):
    """A child that crashes on the case b'crash' (only after a case b'arm' ran in the same process when it
    is b'crash-after-arm'), hangs on b'hang', and otherwise answers ok."""

    def command(self, tmp):
        code = ("import os, signal, sys, time\n"
                "from picoml.fuzz import read_cases\n"
                "armed = False\n"
                "for i, blob in enumerate(read_cases(sys.argv[1]), int(sys.argv[2])):\n"
                "    print('S', i, flush=True)\n"
                "    armed = armed or blob == b'arm'\n"
                "    if blob == b'crash' or (blob == b'crash-after-arm' and armed):\n"
                "        os.kill(os.getpid(), signal.SIGSEGV)\n"
                "    if blob == b'hang':\n"
                "        time.sleep(60)\n"
                "    print('R', i, 'ok', len(blob), flush=True)\n")
        return [sys.executable, "-c", code], None


def test_runner_pins_crashes_and_hangs_to_their_case():
    target = FakeTarget("fake", "pml", 2, 100, None, "")
    blobs = [b"a", b"crash", b"b", b"arm", b"c", b"crash-after-arm", b"d", b"hang", b"e"]
    outcomes = fuzz.run_cases(target, blobs, first=10)
    kinds = [o for o, _ in outcomes]
    assert kinds == ["ok", "crash", "ok", "ok", "ok", "crash", "ok", "hang", "ok"]
    assert "SIGSEGV" in outcomes[1][1] and "only after" not in outcomes[1][1]
    assert "only after case 13 in the same process; alone: ok" in outcomes[5][1]      # b'arm' is case 13


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
def test_valid_models_pass_every_target(name):
    target = fuzz.TARGETS[name]
    models = fuzz.seeds(target)[:SEEDS_PER_TARGET]
    outcomes = fuzz.run_cases(target, [data for _, data in models])
    assert [(m, o) for (m, _), (o, _) in zip(models, outcomes) if o != "ok"] == []


REGRESSIONS = pathlib.Path(__file__).resolve().parent / "fuzz_regressions"


def known_failures():
    """{target: {file name}} of tests/fuzz_regressions/known_failures.txt: regression files that still fail on a
    target, each line `target file  # why` (a fix removes its lines; the test below insists on it)."""
    known = {}
    path = REGRESSIONS / "known_failures.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.split("#", 1)[0].split()
        if line:
            known.setdefault(line[0], set()).add(line[1])
    return known


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
def test_regression_files(name):
    """Every file the fuzzer failed on, on every target: loaded and run, or refused at load."""
    target = fuzz.TARGETS[name]
    files = sorted(REGRESSIONS.glob("*.tflite" if target.kind == "tflite" else "*.pml"))
    assert files, "no regression files for %s" % name
    results = fuzz.replay(name, files)
    failing = {path.name: "%s %s" % (outcome, detail[:200]) for path, outcome, detail in results
               if outcome in fuzz.FAILURES}
    known = known_failures().get(name, set())
    assert {f: why for f, why in failing.items() if f not in known} == {}
    assert sorted(known - set(failing)) == [], "these pass now: remove them from known_failures.txt"


# Cases each CI run gives a target (about a minute of CPU in all); the seed is fixed so a failure reproduces
# with `picoml fuzz --target T --seed ci --cases N`. The long runs are docs/fuzzing.md's.
CI_CASES = {"native": 1000, "viper": 300, "python": 300, "c": 500, "c-m4": 300, "c-m0": 300, "host": 400,
            "convert": 150}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CI_CASES))
def test_fuzz_campaign(name):
    report = fuzz.campaign(name, CI_CASES[name], seed="ci", log=None)
    assert report.n_failures == 0, "\n".join(report.lines())


class PickyTarget(fuzz.Target):
    """A child that crashes on any file whose byte 200 is 0xAB."""

    def command(self, tmp):
        code = ("import os, signal, sys\n"
                "from picoml.fuzz import read_cases\n"
                "for i, blob in enumerate(read_cases(sys.argv[1]), int(sys.argv[2])):\n"
                "    print('S', i, flush=True)\n"
                "    if len(blob) > 200 and blob[200] == 0xAB:\n"
                "        os.kill(os.getpid(), signal.SIGSEGV)\n"
                "    print('R', i, 'ok', flush=True)\n")
        return [sys.executable, "-c", code], None


def test_minimize_keeps_only_the_edit_that_matters(tmp_path, monkeypatch):
    import json
    from picoml.fuzz_mutate import PmlLayout, fix_crc
    monkeypatch.setitem(fuzz.TARGETS, "picky", PickyTarget("picky", "pml", 5, 10, None, ""))
    name, seed = next((n, d) for n, d in fuzz.seeds(fuzz.TARGETS["picky"]) if len(d) > 300 and d[200] != 0xAB)
    field = next(f for f in PmlLayout(seed).fields if f.offset <= 200 < f.offset + 4)
    bad = bytearray(seed)
    bad[200], bad[120], bad[280] = 0xAB, bad[120] ^ 1, bad[280] ^ 0x40
    fix_crc(bad)
    (tmp_path / "x.pml").write_bytes(bad)
    (tmp_path / "x.json").write_text(json.dumps({"seed_model": name}))
    blob, edits = fuzz.minimize("picky", tmp_path / "x.pml")
    assert [i for i in range(16, len(seed)) if blob[i] != seed[i]] == [200]
    assert edits == ["%s: %r -> %r" % (field.name, field.get(seed), field.get(blob))]


def test_backends_and_reference_agree():
    """The same mutated files through the three device backends and the host's reference: each runs everywhere
    with the same output bytes, or is refused everywhere in the same words."""
    counts, disagreements = fuzz.differential(["native", "viper", "python", "host"], 200, seed="ci")
    assert disagreements == [] and counts["ok"] > 20 and counts["refused"] > 20


@pytest.mark.parametrize("old", [b"[" * 100000 + b"]" * 100000, b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_metadata_mutation_of_any_earlier_metadata(old):
    """A metadata mutation after an earlier one left bytes that are not a JSON object (nested past the parser's
    depth, a list, a string, not UTF-8) still makes a case (it once stopped a campaign at case 47,1xx with
    Python's RecursionError)."""
    import random
    from picoml import fuzz_mutate
    seed = next(data for name, data in fuzz.seeds(fuzz.get_target("c")) if name == "imu_gap")
    blob = bytearray(fuzz_mutate.replace_metadata(seed, old))
    layout = fuzz_mutate.PmlLayout(bytes(blob))
    for k in range(40):
        data = bytearray(blob)
        done = fuzz_mutate._m_metadata(data, layout, random.Random(k))
        assert done and format.HEADER.unpack_from(data)


def test_metadata_only_micropython_reads_is_its_own_count():
    """--compare counts a file whose metadata CPython refuses as JSON (a missing ':') while every device target
    agrees apart, as the two parsers' known difference; the same outcomes with valid metadata, or devices that
    disagree among themselves, stay disagreements."""
    from picoml import fuzz_mutate
    seed = next(data for name, data in fuzz.seeds(fuzz.get_target("c")) if name == "imu_gap")
    lenient = fuzz_mutate.replace_metadata(seed, b'{"source"8"x.tflite"}')
    valid = fuzz_mutate.replace_metadata(seed, b'{"source":"x.tflite"}')
    device_ok = ("ok", "1234abcd")
    outs = {"native": device_ok, "python": device_ok,
            "host": ("refused", "picoml: error: corrupt .pml: metadata is not a JSON object")}
    assert fuzz._lenient_metadata(lenient, outs)
    assert not fuzz._lenient_metadata(valid, outs)
    assert not fuzz._lenient_metadata(lenient, dict(outs, python=("ok", "ffffffff")))
