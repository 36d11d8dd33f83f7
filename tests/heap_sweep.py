"""picoml.load under a given MicroPython heap, on the unix port (the deployed x64 build: dist/x64_6.3) or an
emulated board (picoml.runtimes.qemu: Cortex-M4F, Cortex-M0), and the smallest heap that loads a model and runs it.

try_heap() runs one fresh interpreter and classifies what happened:
    "ok"          picoml.load and one predict (int8 zeros) worked
    "memory"      load raised MemoryError; `text` is its message
    "predict"     load worked, the first predict raised MemoryError
    "nostart"     the heap does not even hold `import picoml` and 2 KB more (the interpreter's limit: load never
                  ran; it keeps 1 KB to word its MemoryError, and the port's reader imports picoml in a 4 KB heap)
    "failed"      anything else: another exception, a crash, a hang (`text` holds the output)
A MemoryError from load must name the bytes wanted and the bytes free: memory_numbers() reads them."""
import pathlib
import re
import subprocess
import tempfile

from picoml import format, resources
from picoml.errors import PicomlError
from picoml.runtimes import qemu
from picoml.runtimes.unix import micropython, mpy_cross, unix_port_arch

ROOT = pathlib.Path(__file__).resolve().parents[1]
NATMOD_X64 = resources.natmod_dir("x64")
TARGETS = ("unix", "m4", "m0")
_LIBRARY = []


def unix_library():
    """The device library (sensors included) compiled to .mpy for x64, as deployed, in build/heap_sweep/x64:
    recompiled where a source is newer, each file replaced in one step (other processes may be importing)."""
    if not _LIBRARY:
        import os
        DEVICE = resources.device_library()
        out = ROOT / "build" / "heap_sweep" / "x64"
        for src in sorted((DEVICE / "picoml").rglob("*.py")):
            target = out / src.relative_to(DEVICE).with_suffix(".mpy")
            if target.exists() and target.stat().st_mtime >= src.stat().st_mtime:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_suffix(".%d.tmp" % os.getpid())
            subprocess.run([mpy_cross(), "-march=%s" % unix_port_arch(), "-o", str(temp), str(src)], check=True)
            os.replace(temp, target)
        _LIBRARY.append(out)
    return _LIBRARY[0]

SCRIPT = """
import gc
try:
    import picoml
    probe = bytearray(2048)     # load keeps 1 KB for its MemoryError's message: with less, no load can start
    probe = None
except MemoryError:
    print('RESULT nostart')
    picoml = None
if picoml:
    gc.collect()
    m = None
    try:
        m = picoml.load(%(source)s, backend=%(backend)r)
    except MemoryError as e:
        print('RESULT memory', e)
    if m is not None:
        try:
            m.predict(bytes(%(size)d))
            print('RESULT ok', m.backend)
        except MemoryError as e:
            print('RESULT predict', e)
"""

_NUMBERS = (re.compile(r"needs (\d+) bytes of RAM; (\d+) bytes are free"),
            re.compile(r"allocating (\d+) bytes?\); (\d+) bytes are free once"))     # "byte": a truncated message


def memory_numbers(text):
    """(bytes wanted, bytes free) named in a MemoryError message from picoml.load, or None."""
    for pattern in _NUMBERS:
        m = pattern.search(text)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def _classify(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return "failed", output[-1500:]
    kind, _, text = lines[-1][7:].partition(" ")
    return kind, text


def try_heap(pml_path, backend, target, heap, model_in="ram", native_code="heap", natmod=None):
    """(kind, text) of loading the .pml file at `pml_path` with `backend` under a heap of `heap` bytes
    (native_code: where the emulated boards put native code, qemu.command; natmod: the folder of another
    _picoml.mpy than the target's, e.g. resources.natmod_dir(arch, frontend=False))."""
    size = format.read(pathlib.Path(pml_path).read_bytes())
    size = size.tensors[size.inputs[0].tensor].nbytes
    if target == "unix":
        source = repr(str(pml_path))
        script = "import sys\nsys.path[:0] = [%r, %r]\n" % (str(natmod or NATMOD_X64), str(unix_library()))
        script += SCRIPT % {"source": source, "backend": backend, "size": size}
        with tempfile.TemporaryDirectory(prefix="picoml_heap_") as tmp:
            path = pathlib.Path(tmp) / "main.py"
            path.write_text(script)
            try:
                done = subprocess.run([micropython(), "-X", "heapsize=%d" % heap, str(path)], capture_output=True,
                                      text=True, timeout=300, errors="replace")
            except subprocess.TimeoutExpired:
                return "failed", "timed out"
        if done.returncode != 0:
            last = (done.stdout + done.stderr).strip().splitlines()[-1:]
            if "RESULT" not in done.stdout and last and last[0].startswith("MemoryError"):
                return "nostart", last[0]          # the interpreter could not even compile the script
            return "failed", "exit status %d: %s%s" % (done.returncode, done.stdout[-800:], done.stderr[-800:])
        return _classify(done.stdout)
    if model_in == "flash":
        source = "__import__('qemu').readfile_static(%r)" % str(pml_path)
    else:
        source = repr(str(pml_path))
    try:
        out = qemu.run_script(SCRIPT % {"source": source, "backend": backend, "size": size}, target, heapsize=heap,
                              timeout=300, native_code=native_code, natmod=natmod)
    except PicomlError as e:
        return "failed", str(e)[-1500:]
    return _classify(out)


def max_heap(target):
    """The largest heap the target can have (unix: a lot; the M0 board: what its 256 KiB of RAM leaves)."""
    if target == "unix":
        return 16 * 1024 * 1024
    try:
        qemu.run_script("", target, heapsize=64 * 1024 * 1024)
    except PicomlError as e:
        m = re.search(r"more than the (\d+) bytes", str(e))
        if m:
            return int(m.group(1))
    return 4 * 1024 * 1024 - 64 * 1024


def smallest_heap(pml_path, backend, target, model_in="ram", step=256, tries=None, native_code="heap",
                  natmod=None):
    """The smallest heap (a multiple of `step`) with which load + predict work and keep working for every
    heap up to 8 steps above it (so a lucky hole in an otherwise failing range is not taken), or None when even
    the largest heap fails. `tries` (a list) receives every (heap, kind)."""
    log = tries if tries is not None else []

    def works(heap):
        kind, text = try_heap(pml_path, backend, target, heap, model_in, native_code, natmod)
        log.append((heap, kind))
        if kind == "failed":
            raise AssertionError("heap %d: %s" % (heap, text))
        return kind == "ok"

    top = max_heap(target) // step * step
    hi = 32 * 1024
    while not works(hi):
        if hi >= top:
            return None
        hi = min(hi * 2, top)
    lo = 0
    while True:
        while hi - lo > step:           # lo fails (or is 0), hi works
            mid = (lo + hi) // 2 // step * step
            if works(mid):
                hi = mid
            else:
                lo = mid
        above = next((h for h in range(hi + step, hi + 9 * step, step) if not works(h)), None)
        if above is None:
            return hi
        lo, hi = above, min(above * 2, top)
        while not works(hi):
            if hi >= top:
                return None
            lo, hi = hi, min(hi * 2, top)
