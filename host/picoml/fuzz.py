"""`picoml fuzz`: mutated .pml files against every runtime, mutated .tflite files into `picoml convert`
(docs/fuzzing.md).

    picoml fuzz --target native --cases 100000       # the device library, native backend, unix port
    picoml fuzz --target python --cases 10000 --seed 3
    picoml fuzz --target native --replay tests/fuzz_regressions/*.pml
    picoml fuzz --target native --compare native,viper,python,host --cases 2000   # outputs agree everywhere

Case i of seed s is always the same file (random.Random("s:i") picks a seed model of the corpus and the
mutations, picoml.fuzz_mutate), so any case is reproduced with `--seed s --first i --cases 1 --save DIR`.

Each target runs many cases in one child process, which prints `S i` before case i and `R i outcome detail`
after it; a child that dies (a signal, a sanitizer report) or stops answering (a hang) is pinned to the case
it had started, re-run alone to confirm, and restarted after it. Outcomes:
  ok        loaded (or converted) and ran
  refused   refused at load with ValueError or MemoryError (the host: picoml's own error message)
  error     anything else: another exception, a predict-time error after a successful load, a traceback
  crash     the process died: a signal, an AddressSanitizer or UndefinedBehaviorSanitizer report
  hang      no result within the target's time limit
The last three are failures; `--save DIR` keeps the smallest file of each distinct failure (ten of each kind of
crash or hang, which may be several bugs), with a .json saying what it is: how tests/fuzz_regressions/ is filled.
"""
import binascii
import collections
import hashlib
import json
import os
import pathlib
import random
import re
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time

from . import resources
from .argtypes import non_negative_int, positive_int
from .errors import PicomlError

FAILURES = ("error", "crash", "hang")
OUTCOMES = ("ok", "refused") + FAILURES


class Target:
    """Where cases run: `kind` is the file type fed to it, `timeout` the seconds one case may take, `max_macs`
    the largest seed model (in multiply-accumulates) worth its time, `batch` cases per child process."""

    def __init__(self, name, kind, timeout, batch, max_macs, about):
        self.name = name
        self.kind = kind
        self.timeout = timeout
        self.batch = batch
        self.max_macs = max_macs
        self.about = about

    def command(self, tmp):
        """(argv without the cases file and first index, environment) of the child."""
        if self.name in ("native", "viper", "python"):
            return _micropython_command(self.name, tmp)
        here = str(pathlib.Path(__file__).resolve().parents[1])    # the folder this picoml is imported from
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([here] + sys.path[1:]),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        argv = [sys.executable, "-m", "picoml.fuzz", "--child", self.name]
        if self.name in C_VARIANTS:
            argv.append(str(build_sanitized(self.name)))
            env.update(LD_PRELOAD=_sanitizer_runtime(), ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0",
                       UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
        return argv, env


TARGETS = {t.name: t for t in (
    Target("native", "pml", 10, 500, None, "the device library in MicroPython's unix port, native backend"),
    Target("viper", "pml", 30, 200, 3e6, "the device library in MicroPython's unix port, viper backend"),
    Target("python", "pml", 60, 100, 1e6, "the device library in MicroPython's unix port, pure-Python backend"),
    Target("host", "pml", 60, 200, None, "picoml inspect --tensors and picoml run --runtime reference"),
    Target("c", "pml", 30, 300, None, "the header's checks, then pml_check and pml_invoke of the C kernels built "
                                      "with AddressSanitizer and UndefinedBehaviorSanitizer, through ctypes"),
    Target("c-m4", "pml", 30, 300, None, "the same with the kernels' Cortex-M4 (SIMD32) code paths, in portable C"),
    Target("c-m0", "pml", 30, 300, None, "the same with the kernels' Cortex-M0 (Armv6-M) code paths"),
    Target("convert", "tflite", 120, 100, None, "picoml convert of a mutated .tflite, and the .pml it writes read "
                                                "back"),
)}


# ---------------------------------------------------------------------------------------------------------
# seeds: the corpus's models, as valid .pml (converted once and cached) or as .tflite
# ---------------------------------------------------------------------------------------------------------

def default_corpus():
    """The conformance models beside the repository and the generated ones (tests/genmodels.py's cache)."""
    root = resources.checkout("the default fuzzing corpus")
    return [p for p in (root.parent / "shared" / "conformance", root / "build" / "genmodels") if p.exists()]


def _work():
    """build/fuzz of the checkout: the seed cache and the sanitized C kernels (fuzzing is developer tooling)."""
    return resources.checkout("picoml fuzz") / "build" / "fuzz"


def _corpus_files(corpus, suffixes):
    files = []
    for entry in corpus:
        entry = pathlib.Path(entry)
        found = [entry] if entry.is_file() else sorted(entry.rglob("*"))
        files += [p for p in found if p.suffix in suffixes and p.is_file()]
    return files


def seeds(target, corpus=None):
    """[(name, bytes)] of the valid seed files for the target, smallest work first."""
    from . import format
    from .convert import convert
    from .report import macs
    corpus = default_corpus() if corpus is None else corpus
    if target.kind == "tflite":
        found = [(p.name, p.read_bytes()) for p in _corpus_files(corpus, (".tflite",))]
        out = []
        for name, data in found:
            try:
                convert(data, name, measure_tflm=False)
            except PicomlError:
                continue            # a model picoml does not support is a poor seed: every mutant fails early
            out.append((name, data))
        if not out:
            raise PicomlError("no .tflite model picoml converts in the corpus %s" % ", ".join(map(str, corpus)))
        return out
    out = []
    cache = _work() / "seeds"
    for path in _corpus_files(corpus, (".pml", ".tflite")):
        data = path.read_bytes()
        if path.suffix == ".tflite":
            cached = cache / ("%s-%08x-v%d.pml" % (path.stem, binascii.crc32(data), format.VERSION))
            if not cached.exists():
                try:
                    blob = format.write(convert(data, path.name, measure_tflm=False))
                except PicomlError:
                    continue
                cache.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(blob)
            data = cached.read_bytes()
        try:
            model = format.read(data)
            format.device_module("validate").check(data)    # the ops the device runs (the targets are devices)
        except (PicomlError, ValueError):
            continue
        work = sum(macs(model, op) for op in model.ops)
        if target.max_macs is None or work <= target.max_macs:
            out.append((work, path.stem, data))
    if not out:
        raise PicomlError("no seed model for target %s in the corpus %s" % (target.name, ", ".join(map(str, corpus))))
    return [(name, data) for _, name, data in sorted(out, key=lambda s: (s[0], s[1]))]


class CaseMaker:
    """Case i of a seed: the same bytes every time."""

    def __init__(self, target, seed_models, seed):
        from . import fuzz_mutate
        self.seed = seed
        self.models = seed_models
        self.mutate = fuzz_mutate.mutate_tflite if target.kind == "tflite" else fuzz_mutate.mutate_pml
        layout = fuzz_mutate.TfliteLayout if target.kind == "tflite" else fuzz_mutate.PmlLayout
        self.layouts = [layout(data) for _, data in seed_models]

    def case(self, index):
        """(bytes, seed model name, mutations) of case `index`."""
        rng = random.Random("%s:%d" % (self.seed, index))
        k = rng.randrange(len(self.models))
        data, done = self.mutate(self.models[k][1], rng, self.layouts[k])
        return data, self.models[k][0], done


# ---------------------------------------------------------------------------------------------------------
# running cases in a child process
# ---------------------------------------------------------------------------------------------------------

def _write_cases(path, blobs):
    with open(path, "wb") as f:
        for blob in blobs:
            f.write(len(blob).to_bytes(4, "little"))
            f.write(blob)


def read_cases(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        yield data[pos + 4:pos + 4 + n]
        pos += 4 + n


SANITIZER_LINE = re.compile(r"(?:runtime error: .*|ERROR: AddressSanitizer: .*|SUMMARY: \w+Sanitizer: .*)")


def _describe_death(returncode, stderr):
    """One line: the signal or exit status, and the sanitizer's report if there is one."""
    text = stderr.decode(errors="replace")
    if returncode < 0:
        try:
            what = "killed by %s" % signal.Signals(-returncode).name
        except ValueError:
            what = "killed by signal %d" % -returncode
    else:
        what = "exited with status %d" % returncode
    report = [m.group(0) for m in SANITIZER_LINE.finditer(text)]
    frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\w+) (\S+)", text)
    where = ["%s %s" % (fn, os.path.basename(loc)) for fn, loc in frames if "native_module" in loc][:3]
    if report:
        first = re.sub(r"/\S*/", "", report[0])
        return "%s: %s%s" % (what, first, " [%s]" % ", ".join(where) if where else "")
    tail = [line for line in text.strip().splitlines() if line.strip()][-3:]
    return "%s%s" % (what, (": " + " | ".join(tail))[:600] if tail else "")


def _run_child(target, blobs, first):
    """Run blobs as cases first, first+1, ... in one child: ({k: (outcome, detail)}, stop) where stop is None
    when every case reported, else (k, "crash" or "hang", detail) for the case the child died on or stuck in."""
    with tempfile.TemporaryDirectory(prefix="picoml_fuzz_") as tmp:
        tmp = pathlib.Path(tmp)
        _write_cases(tmp / "cases.bin", blobs)
        argv, env = target.command(tmp)
        err = open(tmp / "stderr", "w+b")
        proc = subprocess.Popen(argv + [str(tmp / "cases.bin"), str(first)], stdout=subprocess.PIPE, stderr=err,
                                env=env, cwd=tmp, start_new_session=True)
        results, current, pending = {}, None, b""
        deadline = time.monotonic() + 60 + target.timeout      # start-up (imports) plus the first case
        stop = None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.killpg(proc.pid, signal.SIGKILL)
                    stop = (current if current is not None else len(results), "hang",
                            "no result within %d s" % target.timeout)
                    break
                if not sel.select(min(left, 1.0)):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    parts = line.decode(errors="replace").split(" ", 3)
                    if len(parts) >= 2 and parts[0] == "S" and parts[1].isdigit():
                        current = int(parts[1]) - first
                        deadline = time.monotonic() + target.timeout
                    elif len(parts) >= 3 and parts[0] == "R" and parts[1].isdigit() and parts[2] in OUTCOMES:
                        results[int(parts[1]) - first] = (parts[2], parts[3] if len(parts) > 3 else "")
                        current = None
        proc.stdout.close()
        returncode = proc.wait()
        err.seek(0)
        stderr = err.read()
        err.close()
        if stop is None and len(results) < len(blobs):
            k = current if current is not None else len(results)
            stop = (k, "crash", _describe_death(returncode, stderr))
        elif stop is None and returncode != 0:
            stop = (len(blobs) - 1, "crash", "after the last case: " + _describe_death(returncode, stderr))
        return results, stop


def run_cases(target, blobs, first=0, log=None):
    """[(outcome, detail)] of every blob, case numbers first, first+1, ...; a crash or hang is confirmed by
    running the case alone (and, if it only happens after others, the detail says after which)."""
    outcomes = [None] * len(blobs)
    start = 0
    while start < len(blobs):
        results, stop = _run_child(target, blobs[start:], first + start)
        for k, outcome in results.items():
            if 0 <= k < len(blobs) - start:
                outcomes[start + k] = outcome
        if stop is None:
            break
        k = start + stop[0]
        outcomes[k] = _confirm(target, blobs, start, k, first, stop[1:])
        if log:
            log("case %d: %s: %s" % (first + k, *outcomes[k]))
        start = k + 1
    return [o or ("error", "the child never reported this case") for o in outcomes]


def _same(stop, k, kind):
    return stop is not None and stop[0] == k and stop[1] == kind


def _confirm(target, blobs, start, k, first, outcome):
    kind, detail = outcome
    if k == start:
        return outcome          # it was the first case of its child: it ran as if alone
    results, stop = _run_child(target, [blobs[k]], first + k)
    if _same(stop, 0, kind):
        return kind, stop[2]
    alone = results.get(0, stop[1:] if stop else ("?", ""))
    if kind == "hang":          # slow alone but under the limit, or a machine busy in the first run: say so
        return kind, "%s (alone: %s %s)" % (detail, *alone)
    lo, hi = start, k           # blobs[lo..k] reproduce, blobs[hi..k] do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        _, stop = _run_child(target, blobs[mid:k + 1], first + mid)
        if _same(stop, k - mid, kind):
            lo = mid
        else:
            hi = mid
    return kind, "%s (only after case %d in the same process; alone: %s %s)" % (detail, first + lo, *alone)


# ---------------------------------------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------------------------------------

def signature(outcome, detail):
    """What makes two failures the same bug: the outcome and the message with numbers and names of files
    taken out."""
    text = re.sub(r"0x[0-9a-f]+|-?\d+(\.\d+)?(e[-+]?\d+)?", "N", detail)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)
    return "%s: %s" % (outcome, text[:160])


class Report:
    def __init__(self, target, seed, first, n_seeds):
        self.target = target
        self.seed = seed
        self.first = first
        self.n_seeds = n_seeds
        self.counts = collections.Counter()
        self.failures = {}          # signature -> [count, [(size, index, outcome, detail, blob, info)], smallest first]
        self.seconds = 0.0

    # A signal or a hang says nothing of where it happened: keep several files of each, they may be several bugs
    # (a sanitizer's report names the place: one file of each is enough).
    KEEP = {"error": 1, "crash": 10, "hang": 10}

    def add(self, index, outcome, detail, blob, info):
        self.counts[outcome] += 1
        if outcome not in FAILURES:
            return
        sig = signature(outcome, detail)
        entry = self.failures.setdefault(sig, [0, []])
        entry[0] += 1
        keep = 1 if SANITIZER_LINE.search(detail) else self.KEEP[outcome]
        entry[1] = sorted(entry[1] + [(len(blob), index, outcome, detail, blob, info)], key=lambda e: e[:2])[:keep]

    @property
    def n_failures(self):
        return sum(self.counts[k] for k in FAILURES)

    def lines(self):
        n = sum(self.counts.values())
        out = ["fuzz %s: %d cases (seed %s, cases %d..%d, %d seed models) in %.1f s" % (
            self.target.name, n, self.seed, self.first, self.first + n - 1, self.n_seeds, self.seconds)]
        out += ["  %-8s %7d" % (k, self.counts[k]) for k in OUTCOMES]
        for sig, (count, examples) in sorted(self.failures.items(), key=lambda kv: -kv[1][0]):
            out.append("  %5d x %s" % (count, sig))
            out.append("          e.g. case %d: %s" % (examples[0][1], examples[0][3][:300]))
        return out


def save_failure(directory, target, outcome, detail, blob, info):
    """Write the failing file as <target>-<outcome>-<hash>.<pml|tflite> with a .json beside it; returns the
    path."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".tflite" if target.kind == "tflite" else ".pml"
    digest = hashlib.sha1(blob).hexdigest()[:10]
    same = sorted(directory.glob("*-%s%s" % (digest, suffix)))
    if same:
        return same[0]          # the same file, saved for another target: it runs on every target anyway
    stem = "%s-%s-%s" % (target.name, outcome, digest)
    path = directory / (stem + suffix)
    path.write_bytes(blob)
    (directory / (stem + ".json")).write_text(json.dumps(dict(info, target=target.name, outcome=outcome,
                                                              detail=detail), indent=1) + "\n")
    return path


def campaign(target_name, cases, seed=0, first=0, corpus=None, save=None, log=print, batch=None):
    """Run `cases` mutated files through a target; returns the Report (and saves one file per distinct failure
    into `save`, if given)."""
    target = get_target(target_name)
    t0 = time.monotonic()
    models = seeds(target, corpus)
    maker = CaseMaker(target, models, seed)
    report = Report(target, seed, first, len(models))
    batch = batch or target.batch
    index = first
    while index < first + cases:
        n = min(batch, first + cases - index)
        made = [maker.case(i) for i in range(index, index + n)]
        outcomes = run_cases(target, [m[0] for m in made], index, log)
        for k, ((outcome, detail), (blob, model, done)) in enumerate(zip(outcomes, made)):
            report.add(index + k, outcome, detail, blob, {"seed": seed, "case": index + k, "seed_model": model,
                                                           "mutations": done})
        index += n
        if log:
            log("  %d/%d cases, %s" % (index - first, cases, ", ".join("%s %d" % (k, report.counts[k])
                                                                       for k in OUTCOMES if report.counts[k])))
    report.seconds = time.monotonic() - t0
    if save:
        for _, examples in report.failures.values():
            for _, index, outcome, detail, blob, info in examples:
                path = save_failure(save, target, outcome, detail, blob, info)
                if log:
                    log("saved %s" % path)
    return report


def differential(names, cases, seed=0, first=0, corpus=None, log=None):
    """The same mutated .pml files through several targets, which must agree: each file loaded and run by all
    with the same output bytes (the outcome's digest: a CRC-32 of the outputs for the same input), or refused by
    all in the same words (a MemoryError on one alone is the memory of that runtime, not a disagreement). Returns
    (counts {"ok", "refused", "memory"}, [(case, {target: (outcome, detail)})] of the disagreements). The seed
    models are those of the slowest target, so every target gets the same files."""
    targets = [get_target(n) for n in names]
    if any(t.kind != "pml" or t.name in C_VARIANTS for t in targets):
        raise PicomlError("--compare takes .pml targets that run a model from a zeroed arena: native, viper, "
                          "python, host")
    slowest = min(targets, key=lambda t: t.max_macs or float("inf"))
    maker = CaseMaker(slowest, seeds(slowest, corpus), seed)
    blobs = [maker.case(i)[0] for i in range(first, first + cases)]
    results = {t.name: run_cases(t, blobs, first, log) for t in targets}
    counts, disagreements = collections.Counter(), []
    for k in range(cases):
        outs = {n: results[n][k] for n in names}
        kinds = {o for o, _ in outs.values()}
        if kinds == {"ok"} and len({d for _, d in outs.values()}) == 1:
            counts["ok"] += 1
        elif kinds == {"refused"} and len({_refusal_words(d) for _, d in outs.values()}) == 1:
            counts["refused"] += 1
        elif kinds <= {"ok", "refused"} and any(o == "refused" and "MemoryError" in d for o, d in outs.values()):
            counts["memory"] += 1
        elif _host_only_op(outs):
            counts["host-only op"] += 1
        elif _lenient_metadata(blobs[k], outs):
            counts["lenient metadata"] += 1
        else:
            disagreements.append((first + k, outs))
    return counts, disagreements


def _host_only_op(outs):
    """A file whose op code is one the host runs and the device does not yet (optable's `device`): every device
    target refuses it as unknown, the host reads it as that op, which is no disagreement."""
    import re
    from .optable import BY_CODE
    codes = set()
    for name, (outcome, detail) in outs.items():
        if name == "host":
            continue
        m = re.search(r"unknown op code (\d+) ", detail) if outcome == "refused" else None
        if m is None:
            return False
        codes.add(int(m.group(1)))
    return len(codes) == 1 and codes.pop() in BY_CODE and not BY_CODE[int(m.group(1))].device


def _lenient_metadata(blob, outs):
    """A file whose metadata CPython's JSON parser refuses and MicroPython's reads (it takes a missing ':' or ',' and
    a trailing comma, docs/fuzzing.md): the host refuses the file, or names no layer in a refusal, while the device
    targets, which agree with each other, read the metadata and go on. The parsers' known difference, not a
    disagreement of the runtimes."""
    from . import format
    devices = {(outcome, _refusal_words(detail)) for name, (outcome, detail) in outs.items() if name != "host"}
    if "host" not in outs or len(devices) != 1:
        return False
    try:
        h = dict(zip(format.HEADER_FIELDS, format.HEADER.unpack_from(blob)))
        raw = bytes(blob[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]])
    except struct.error:
        return False
    if len(raw) != h["metadata_size"] or not raw or min(raw) < 0x20:
        return False
    try:
        json.loads(raw.decode())
    except (ValueError, RecursionError):
        return True
    return False


def _refusal_words(detail):
    """A refusal's message without what the runtime puts around it (the exception's type, the CLI's prefix)."""
    for prefix in ("ValueError: ", "picoml: error: ", "picoml: "):
        if detail.startswith(prefix):
            detail = detail[len(prefix):]
    return detail


def replay(target_name, paths, log=None):
    """[(path, outcome, detail)] of existing files (regression files) run through a target as they are."""
    target = get_target(target_name)
    paths = [pathlib.Path(p) for p in paths]
    outcomes = run_cases(target, [p.read_bytes() for p in paths], 0, log)
    return [(p, o, d) for p, (o, d) in zip(paths, outcomes)]


def minimize(target_name, path, corpus=None):
    """(bytes, [the fields still edited]) of a saved failing .pml reduced to the fewest of its edits (bytes that
    differ from its seed model, reverted in halves, then one by one, as long as the failure stays the same):
    what a fix has to look at. Files of another length than their seed (truncated, extended, new metadata)
    are returned as they are."""
    from . import fuzz_mutate
    target = get_target(target_name)
    path = pathlib.Path(path)
    blob = path.read_bytes()
    info = json.loads(path.with_suffix(".json").read_text())
    seed = dict(seeds(target, corpus)).get(info["seed_model"])
    (outcome, detail), = run_cases(target, [blob])
    want = signature(outcome, detail)
    if outcome not in FAILURES or seed is None or len(seed) != len(blob):
        return blob, []
    layout = fuzz_mutate.PmlLayout(seed)

    def with_reverted(base, positions):
        data = bytearray(base)
        for i in positions:
            data[i] = seed[i]
        fuzz_mutate.fix_crc(data)
        return bytes(data)

    edited = [i for i in range(fuzz_mutate.format.CRC_START, len(blob)) if blob[i] != seed[i]]
    chunk = max(1, len(edited) // 2)
    while edited:
        groups = [edited[k:k + chunk] for k in range(0, len(edited), chunk)]
        results = run_cases(target, [with_reverted(blob, g) for g in groups])
        unneeded = next((g for g, r in zip(groups, results) if signature(*r) == want), None)
        if unneeded is not None:
            blob = with_reverted(blob, unneeded)
            edited = [i for i in edited if i not in unneeded]
        elif chunk > 1:
            chunk //= 2
        else:
            break
    sizes = {f: struct.calcsize(fuzz_mutate.SCALAR_FORMATS[f.kind]) for f in layout.fields}
    names = ["%s: %r -> %r" % (f.name, f.get(seed), f.get(blob)) for f in layout.fields
             if any(f.offset <= i < f.offset + sizes[f] for i in edited)]
    covered = {i for f in layout.fields for i in range(f.offset, f.offset + sizes[f])}
    return blob, names + ["byte %d: %02x -> %02x" % (i, seed[i], blob[i]) for i in edited if i not in covered]


def get_target(name):
    if name not in TARGETS:
        raise PicomlError("unknown fuzz target %r: choose from %s" % (name, ", ".join(TARGETS)))
    return TARGETS[name]


# ---------------------------------------------------------------------------------------------------------
# the children
# ---------------------------------------------------------------------------------------------------------

# Run by MicroPython's unix port: argv = cases file, first case number; BACKEND is set in front of it.
MICROPYTHON_DRIVER = """
import sys
from binascii import crc32
import picoml


def line(e):
    return ('%s: %s' % (type(e).__name__, e)).replace('\\n', ' ')[:400]


def pattern(n, case, j, dtype='int8'):
    # the host's _pattern: int8 values (as bytes), or for a wider input those values in its dtype (sign-extended)
    b = bytearray(n)
    v = (case * 11 + j * 101) & 0xFF
    for k in range(n):
        b[k] = (v + k * 37) & 0xFF
    if dtype == 'int8':
        return b
    from array import array
    code, mask = {'int16': ('h', -1), 'int32': ('i', -1), 'uint32': ('I', 0xFFFFFFFF),
                  'uint64': ('Q', 0xFFFFFFFFFFFFFFFF)}[dtype]
    return array(code, [(u - 256 if u > 127 else u) & mask for u in b])


def run(blob, case):
    try:
        m = picoml.load(blob, backend=BACKEND)
    except (ValueError, MemoryError) as e:
        return 'refused ' + line(e)
    except Exception as e:
        return 'error load raised ' + line(e)
    try:
        info = m.info()
        repr(m)
    except Exception as e:
        return 'error info() or repr() raised ' + line(e)
    try:
        xs = []
        for j, io in enumerate(info['inputs']):
            n = 1
            for d in io['shape']:
                n *= d
            xs.append(pattern(n, case, j, io['dtype']))
        y = m.predict(xs[0] if len(xs) == 1 else xs)
        digest = 0
        for out in (y if isinstance(y, list) else [y]):
            digest = crc32(out, digest)
    except Exception as e:
        return 'error predict raised ' + line(e)
    try:
        if info['outputs'][0]['dtype'] == 'int8':     # (top() refuses wider outputs: their bytes are not scores)
            m.top()
    except Exception as e:
        return 'error top() raised ' + line(e)
    return 'ok %08x' % (digest & 0xFFFFFFFF)


def main():
    path, case = sys.argv[1], int(sys.argv[2])
    f = open(path, 'rb')
    while True:
        head = f.read(4)
        if len(head) < 4:
            break
        n = int.from_bytes(head, 'little')
        blob = bytearray(n)
        got = 0
        view = memoryview(blob)
        while got < n:
            k = f.readinto(view[got:])
            if not k:
                break
            got += k
        view = None
        print('S', case)
        print('R', case, run(blob, case))
        blob = None
        case += 1


main()
"""


def _micropython_command(backend, tmp):
    from .runtimes.unix import micropython
    if backend == "native":
        resources.natmod("x64")
    paths = [str(resources.natmod_dir("x64")), str(resources.device_library())]
    script = pathlib.Path(tmp) / "driver.py"
    script.write_text("import sys\nsys.path[:0] = %r\nBACKEND = %r\n" % (paths, backend)
                      + MICROPYTHON_DRIVER)
    return [micropython(), "-X", "heapsize=16m", str(script)], dict(os.environ, MICROPYPATH="")


def _pattern(n, case, j):
    import numpy as np
    return ((case * 11 + j * 101 + np.arange(n, dtype=np.int64) * 37) & 0xFF).astype(np.uint8).view(np.int8)


def _line(e):
    return ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")[:400]


def _cli(argv):
    """(exit status, stderr text) of `picoml ARGV` run in this process, its output discarded; an exception
    that escapes the CLI is returned as status None with the exception."""
    import contextlib
    import io
    from .cli import main
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(argv)
    except Exception as e:          # noqa: BLE001 -- the point: anything that escapes is a failure
        return None, _line(e)
    except SystemExit as e:
        return "exit %s" % e.code, err.getvalue().strip().replace("\n", " ")[:400]
    return status, err.getvalue().strip().replace("\n", " ")[:400]


def _host_case(blob, case, tmp):
    import numpy as np
    from . import format
    path = tmp / "case.pml"
    path.write_bytes(blob)
    status, text = _cli(["inspect", "--tensors", str(path)])
    if status == 2 and text.startswith("picoml: error: "):
        return "refused", text
    if status != 0:
        return "error", "inspect: %s %s" % ("raised" if status is None else "exit status %s" % status, text)
    model = format.read(blob)
    argv = ["run", str(path), "--runtime", "reference"]
    for j, e in enumerate(model.inputs):
        t = model.tensors[e.tensor]
        np.save(tmp / ("in%d.npy" % j), _pattern(int(np.prod(t.shape)), case, j).astype(t.dtype).reshape(t.shape))
        argv += ["--input", str(tmp / ("in%d.npy" % j))]
    for j in range(len(model.outputs)):
        argv += ["--output", str(tmp / ("out%d.npy" % j))]
    status, text = _cli(argv)
    if status != 0:
        return "error", "run --runtime reference after inspect accepted the file: %s %s" % (
            "raised" if status is None else "exit status %s" % status, text)
    digest = 0
    for j in range(len(model.outputs)):
        digest = binascii.crc32(np.load(tmp / ("out%d.npy" % j)).tobytes(), digest)
    return "ok", "%08x" % digest


def _convert_case(blob, case, tmp):
    from . import format
    path, out = tmp / "case.tflite", tmp / "case.pml"
    path.write_bytes(blob)
    if out.exists():
        out.unlink()
    status, text = _cli(["convert", str(path), "-o", str(out)])
    if status == 2 and text.startswith("picoml: error: "):
        return "refused", text
    if status != 0:
        return "error", "convert: %s %s" % ("raised" if status is None else "exit status %s" % status, text)
    try:
        format.read(out.read_bytes())
    except Exception as e:          # noqa: BLE001
        return "error", "convert wrote a .pml its own reader refuses: " + _line(e)
    return "ok", ""


ARENA_LIMIT = 64 << 20      # what the C target allocates at most; a board refuses far less with MemoryError


def _c_library(path):
    """The sanitized library through ctypes, with pml_check and pml_invoke declared as native_module/picoml.h
    declares them."""
    import ctypes
    lib = ctypes.CDLL(path)
    lib.pml_check.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p]
    lib.pml_check.restype = ctypes.c_int
    lib.pml_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.pml_invoke.restype = None
    return lib


def _c_case(blob, case, lib):
    """What the device does with the native backend: the header's checks (magic, version, size, CRC-32: the
    same rules on host and device), then pml_check, then pml_invoke. Odd cases place the kernels' scratch in the
    arena's free bytes, as the device does; even ones keep it all apart, where the sanitizer's redzones catch a
    kernel going past what its check asked for."""
    import ctypes
    from . import format
    try:
        h = format.read_header(blob)
    except PicomlError as e:
        return "refused", _line(e)
    size = max(h["arena_size"], 4)
    if size > ARENA_LIMIT:
        return "refused", "MemoryError: an arena of %d bytes" % size
    model = (ctypes.c_uint8 * len(blob)).from_buffer_copy(blob)
    arena = (ctypes.c_uint8 * size).from_buffer_copy(bytes(_pattern(size, case, 0).view("uint8")))
    error, scratch_size = (ctypes.c_int32 * 16)(), ctypes.c_uint32()
    scratch_at = (ctypes.c_uint32 * max(h["n_ops"], 1))() if case % 2 else None
    status = lib.pml_check(model, len(blob), size, error, ctypes.byref(scratch_size), scratch_at)
    if status != 0:
        return "refused", "pml_check: status %d %s" % (status, list(error[:5]))
    if scratch_size.value > ARENA_LIMIT:
        return "refused", "MemoryError: a scratch buffer of %d bytes" % scratch_size.value
    # from malloc (AddressSanitizer's, in the sanitized child), exactly as large as asked: a kernel that reads or
    # writes past the scratch its check asked for meets a redzone
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
    scratch = libc.malloc(max(scratch_size.value, 1))
    lib.pml_invoke(model, arena, scratch, scratch_at)
    libc.free(scratch)
    digest = 0
    for k in range(h["n_inputs"], h["n_inputs"] + h["n_outputs"]):
        at = h["io_offset"] + k * format.IO_ENTRY.size
        index = format.IO_ENTRY.unpack_from(blob, at)[0] if at + format.IO_ENTRY.size <= len(blob) else h["n_tensors"]
        if index < h["n_tensors"] and h["tensors_offset"] + (index + 1) * format.TENSOR.size <= len(blob):
            entry = format.TENSOR.unpack_from(blob, h["tensors_offset"] + index * format.TENSOR.size)
            if entry[2] == format.STORAGE_ARENA and entry[4] + entry[5] <= size:
                digest = binascii.crc32(bytes(arena[entry[4]:entry[4] + entry[5]]), digest)
    return "ok", "%08x" % digest


def child_main(argv):
    """python -m picoml.fuzz --child TARGET [LIB] CASES FIRST: run cases as the parent asks."""
    name = argv[0]
    cases, first = argv[-2], int(argv[-1])
    tmp = pathlib.Path.cwd()       # the parent's temporary folder, which it removes when the child has ended
    if name in C_VARIANTS:
        lib = _c_library(argv[1])
        run = lambda blob, case: _c_case(blob, case, lib)      # noqa: E731
    else:
        import resource
        limit = 4 << 30     # a runaway allocation is a MemoryError (a failure), not the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        one = _host_case if name == "host" else _convert_case
        run = lambda blob, case: one(blob, case, tmp)      # noqa: E731
    for case, blob in enumerate(read_cases(cases), first):
        print("S", case, flush=True)
        try:
            outcome, detail = run(blob, case)
        except Exception as e:      # noqa: BLE001 -- a bug in this driver is reported, not hidden
            outcome, detail = "error", "fuzz driver: " + _line(e)
        print("R", case, outcome, detail.replace("\n", " "), flush=True)


# ---------------------------------------------------------------------------------------------------------
# the C kernels with sanitizers
# ---------------------------------------------------------------------------------------------------------

SANITIZE = ["-fsanitize=address,undefined,float-cast-overflow,float-divide-by-zero", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"]


# the C targets: the kernels as built for this machine, and their Cortex-M4 and Cortex-M0 code paths in portable C
# (the same defines as `make hostlib`'s libpicoml_m4.so and libpicoml_m0.so)
C_VARIANTS = {"c": [], "c-m4": ["-DPML_SIMD32_PORTABLE"], "c-m0": ["-DPML_ARMV6M_PORTABLE", "-DPML_NO_LIBGCC"]}


def build_sanitized(variant="c"):
    """build/fuzz/libpicoml_san[_m4|_m0].so: every C file of the runtime but the MicroPython binding, with
    AddressSanitizer and UndefinedBehaviorSanitizer, with the variant's defines; rebuilt when a source changes."""
    native_sources = resources.checkout("fuzzing the C kernels") / "native_module"
    sources = sorted(p for p in native_sources.glob("*.c") if not p.name.startswith("mod"))
    library = _work() / ("libpicoml_san%s.so" % variant[1:].replace("-", "_"))
    newest = max(p.stat().st_mtime for p in sources + list(native_sources.glob("*.h")))
    if not library.exists() or library.stat().st_mtime < newest:
        library.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["gcc", "-std=c99", "-O1", "-g", "-Wall", "-shared", "-fPIC", *SANITIZE, *C_VARIANTS[variant],
               "-o", str(library), *map(str, sources)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise PicomlError("building the sanitized C kernels failed:\n%s" % done.stderr[-3000:])
    return library


def _sanitizer_runtime():
    path = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(path):
        raise PicomlError("gcc has no AddressSanitizer runtime (libasan.so): install gcc's libasan")
    return path


# ---------------------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------------------

def add_commands(subparsers):
    f = subparsers.add_parser("fuzz", help="run mutated .pml/.tflite files through a runtime (a developer tool, "
                                           "docs/fuzzing.md)")
    f.add_argument("--target", required=True, choices=sorted(TARGETS),
                   help="; ".join("%s: %s" % (t.name, t.about) for t in TARGETS.values()))
    f.add_argument("--cases", type=positive_int, default=1000, help="how many cases (default 1000)")
    f.add_argument("--seed", default="0", help="the campaign's seed (default 0)")
    f.add_argument("--first", type=non_negative_int, default=0, help="the first case number (default 0)")
    f.add_argument("--corpus", action="append", help="a folder or file of seed models (.pml, .tflite); default: "
                                                     "../shared/conformance and build/genmodels")
    f.add_argument("--save", help="a folder to save one file per distinct failure into (e.g. "
                                  "tests/fuzz_regressions)")
    f.add_argument("--replay", nargs="+", metavar="FILE", help="run these files as they are instead of mutants")
    f.add_argument("--compare", metavar="TARGETS", help="comma-separated .pml targets (e.g. native,python,host) "
                                                        "that must agree on every case: the same output bytes, or "
                                                        "all refuse (--target is ignored)")
    f.add_argument("--minimize", metavar="FILE", help="reduce a saved failing .pml (with its .json) to the fewest "
                                                      "edits of its seed model that still fail the same way; "
                                                      "writes FILE.min.pml and prints the edits left")
    f.add_argument("--batch", type=positive_int, help="cases per child process")
    f.set_defaults(func=cmd_fuzz)


def cmd_fuzz(args):
    if args.compare:
        names = [n.strip() for n in args.compare.split(",") if n.strip()]
        counts, disagreements = differential(names, args.cases, args.seed, args.first, args.corpus,
                                             log=lambda s: print(s, file=sys.stderr))
        print("compare %s: %d cases (seed %s): %d ran with the same output bytes everywhere, %d refused "
              "everywhere, %d refused for memory by some, %d with an op only the host runs, %d with metadata only "
              "MicroPython's parser reads, %d disagreements"
              % (",".join(names), args.cases, args.seed, counts["ok"], counts["refused"], counts["memory"],
                 counts["host-only op"], counts["lenient metadata"], len(disagreements)))
        for case, outs in disagreements[:20]:
            print("  case %d: %s" % (case, "; ".join("%s %s %s" % (n, o, d[:120]) for n, (o, d) in outs.items())))
        if disagreements:
            raise PicomlError("%d cases where %s disagree" % (len(disagreements), ", ".join(names)))
        return
    if args.minimize:
        blob, edits = minimize(args.target, args.minimize, args.corpus)
        out = pathlib.Path(args.minimize).with_suffix(".min.pml")
        out.write_bytes(blob)
        print("wrote %s; the edits that make it fail:" % out)
        print("\n".join("  " + e for e in edits) or "  (not reduced: another length than its seed model)")
        (outcome, detail), = run_cases(get_target(args.target), [blob])
        print("%s: %s" % (outcome, detail))
        return
    if args.replay:
        failures = 0
        for path, outcome, detail in replay(args.target, args.replay):
            print("%-8s %s  %s" % (outcome, path, detail[:200]))
            failures += outcome in FAILURES
        if failures:
            raise PicomlError("%d of %d files failed on target %s" % (failures, len(args.replay), args.target))
        return
    report = campaign(args.target, args.cases, args.seed, args.first, args.corpus, args.save,
                      log=lambda s: print(s, file=sys.stderr), batch=args.batch)
    print("\n".join(report.lines()))
    if report.n_failures:
        raise PicomlError("%d failures" % report.n_failures)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2:])
    else:
        from .cli import main
        sys.exit(main(["fuzz"] + sys.argv[1:]))
