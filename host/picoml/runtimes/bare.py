"""Run .pml models through the C kernels and op-table walker on emulated Cortex-M cores: the bare-metal images
`make baremetal` builds from emulation/baremetal/ (a checkout's developer tooling, not in an installed picoml).
The runtimes bare-m4, bare-m0, bare-m0plus and bare-xtensa (class BareMetal, as every runtime in picoml.runtimes).

    from picoml.runtimes import bare
    images = bare.built_images()    # the built images, checked to be up to date
    r = bare.run("m4", blob, [x0, x1])   # or "m0plus" (rp2040js), "m0" (QEMU microbit)
    r.outputs[i]    # list of the model's outputs (numpy arrays) for sample i
    r.insns[i]      # instructions executed from pml_mark_begin to pml_mark_end around that pml_invoke
    r.cycles[i]     # rp2040js cycles for the same span ("m0plus" only; None elsewhere)
    r.classes[i]    # QEMU cores: the plugin's counts by class for that span (picoml.cycles: estimate()); xtensa:
                    # {"insns": N, "vectors": V}, V the instructions of start.S's exception handlers meanwhile
    r.ops[i]        # with per_op=True: [(op name, counts or {"cycles": n} on rp2040js)] per op of the model;
                    # the first entry, "(walker)", is the harness's call and the walker before the first kernel

Cores (machine parameters: emulation/machines.mk):
  m4      Cortex-M4F (-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard), QEMU mps2-an386, semihosting;
          instruction counts from the TCG plugin emulation/baremetal/insn_count.c
  m0plus  Cortex-M0+ (armv6m), rp2040js (emulation/rp2040js/run_rp2040.mjs): cycles and instructions
  m0      the same armv6m kernel objects on QEMU microbit (a Cortex-M0), semihosting; instruction counts from the
          plugin: the same instruction stream as m0plus, so the counts must agree
  xtensa  the ESP32 module's kernel code on QEMU's Xtensa dc233c core (sim machine; windowed registers as the
          ESP32's LX6, not an ESP32, MUL32_HIGH done in software), data over its simulator calls; instruction
          counts from the plugin, no cycles (QEMU models no LX6 timing; docs/esp32.md)
The model and the inputs sit in the code memory (flash) on every core, outputs and arena in the RAM.
"""
import dataclasses
import pathlib
import shutil
import subprocess
import tempfile

from .. import emulation, format, resources
from ..errors import PicomlError
from . import Batch, Bench, Runtime, pack_inputs, unpack_outputs, zero_inputs

CROSS = "arm-none-eabi-"
CORES = ("m4", "m0plus", "m0", "xtensa")
MACHINE = {"m4": "MPS2", "m0": "MICROBIT", "xtensa": "XTENSA_SIM"}
TIMEOUT = 300         # seconds per emulator run; the slowest test run (ResNet on rp2040js) takes ~12 s
BUILD = "build/emulation/baremetal"
SOURCES = ("emulation/baremetal/*.[ch]", "emulation/common/*", "emulation/xtensa/*", "emulation/machines.mk",
           "native_module/*.[ch]", "native_module/opt.mk", "scripts/xtensawin/*")
ESTIMATE_CORE = {"m4": "cortex-m4", "m0": "cortex-m0plus"}   # the timing table (picoml.cycles) of a QEMU core


class EmulatorMissing(RuntimeError):
    pass


def _rp2040js():
    return resources.checkout("the bare-metal kernel harness") / "emulation" / "rp2040js"


def missing_tools():
    """What is missing to build and run the images, as a list of names (empty when all is there)."""
    missing = [tool for tool in (CROSS + "gcc", "nm", "node", "gcc")
               if shutil.which(tool) is None]
    if not (_rp2040js() / "node_modules" / "rp2040js" / "package.json").exists():
        missing.append("rp2040js (npm, in emulation/rp2040js/node_modules)")
    return missing


def require_tools():
    missing = missing_tools()
    if missing:
        raise EmulatorMissing("missing %s: run scripts/install-system-packages.sh" % ", ".join(missing))


@dataclasses.dataclass(frozen=True)
class Images:
    build: pathlib.Path

    @property
    def m4(self):
        return self.build / "m4.elf"

    @property
    def microbit(self):
        return self.build / "m0_microbit.elf"

    @property
    def rp2040(self):
        return self.build / "m0_rp2040.bin"

    @property
    def xtensa(self):
        return self.build / "xtensa.elf"

    def elf(self, core):
        return {"m4": self.m4, "m0": self.microbit, "xtensa": self.xtensa}[core]

    @property
    def plugin(self):
        return self.build / "libinsn_count.so"

    @property
    def armv6m_kernels(self):
        return self.build / "libpicoml_armv6m.a"

    @property
    def armv7emsp_kernels(self):
        return self.build / "libpicoml_armv7emsp.a"


def built_images():
    """The images `make baremetal` built, checked to be newer than their sources."""
    require_tools()
    return Images(emulation.built(BUILD + "/built", "baremetal", SOURCES).parent)


_symbols = {}


def symbols(elf):
    """{name: address} of an image (cached per file and mtime)."""
    elf = pathlib.Path(elf)
    key = (elf, elf.stat().st_mtime_ns)
    if key not in _symbols:
        out = subprocess.run(["nm", str(elf)], check=True, capture_output=True, text=True).stdout
        _symbols[key] = {f[2]: int(f[0], 16) for f in (line.split() for line in out.splitlines()) if len(f) == 3}
    return _symbols[key]


@dataclasses.dataclass
class Result:
    core: str
    outputs: list           # per sample: list of output arrays
    insns: list             # per sample, or None
    cycles: list = None     # per sample (rp2040js only)
    log: str = ""
    classes: list = None    # per sample: counts by class (QEMU cores)
    ops: list = None        # per sample: [(op name, counts)] (per_op=True)
    functions: list = None  # [(function, cycles)] over all samples, most first (profile=True, rp2040js only)
    addresses: list = None  # [(instruction address, cycles)] over all samples (profile=True, rp2040js only)


def _header(blob):
    return format.read(bytes(blob))


def _qemu_command(images, core):
    """QEMU running the harness on model.pml / inputs.bin / outputs.bin in its working folder (relative names:
    semihosting's command line is split at spaces)."""
    return [*emulation.qemu(MACHINE[core]), "-semihosting-config", "enable=on,target=native,arg=harness,arg=model.pml,arg=inputs.bin,arg=outputs.bin",
            "-kernel", str(images.elf(core))]


def functions(elf):
    """[(address, name)] of an image's functions (code symbols, not the $t / $d mapping symbols), in address
    order."""
    out = subprocess.run(["nm", "-n", str(elf)], check=True, capture_output=True, text=True).stdout
    return [(int(f[0], 16) & ~1, f[2]) for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and f[1] in "tTwW" and not f[2].startswith("$")]


def per_function(elf, cycles_by_address):
    """[(function, cycles)], most first, of cycles counted per instruction address."""
    import bisect
    code = functions(elf)
    starts = [a for a, _ in code]
    totals = {}
    for address, cycles in cycles_by_address:
        i = bisect.bisect_right(starts, address) - 1
        name = code[i][1] if i >= 0 else "?"
        totals[name] = totals.get(name, 0) + cycles
    return sorted(totals.items(), key=lambda item: -item[1])


def kernel_entries(elf):
    """{address: op name} of the kernels' entry points (pml_<op>_s8) in an image: where the per-op counts cut."""
    from .. import optable
    sym = symbols(elf)
    return {sym["pml_%s_s8" % op.name.lower()] & ~1: op.name for op in optable.DEVICE_OPS
            if "pml_%s_s8" % op.name.lower() in sym}


def _per_op(core, model, segments, entries):
    """[(op name, counts)] of one invoke from its segments [(entry address, counts)], checked against the model's
    ops: the first segment (address 0) is the walker before the first kernel."""
    names = ["(walker)"] + [entries.get(addr, "?") for addr, _ in segments[1:]]
    expected = ["(walker)"] + [op.name for op in model.ops]
    if names != expected:
        raise RuntimeError("%s: the kernels entered (%s) are not the model's ops (%s): per-op counts need each "
                           "op's kernel entered once" % (core, ", ".join(names[1:]), ", ".join(expected[1:])))
    return [(name, counts) for name, (_, counts) in zip(names, segments)]


def _run_qemu(images, core, blob, model, inputs, n, work, count_insns, per_op=False):
    elf = images.elf(core)
    (work / "model.pml").write_bytes(blob)
    (work / "inputs.bin").write_bytes(inputs)
    cmd = _qemu_command(images, core)
    entries = kernel_entries(elf) if per_op else {}
    if count_insns or per_op:
        sym = symbols(elf)
        arg = "%s,begin=%#x,end=%#x" % (images.plugin, sym["pml_mark_begin"], sym["pml_mark_end"])
        if entries:
            arg += ",ops=" + ":".join("%#x" % a for a in sorted(entries))
        if core == "xtensa":    # start.S's exception handlers, counted apart
            arg += ",vectors=%#x:%#x" % (sym["__vectors_start"], sym["__vectors_end"])
        cmd += ["-plugin", arg, "-d", "plugin", "-D", "plugin.log"]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
    log = p.stdout + p.stderr
    if p.returncode != 0 or "picoml-harness status=0 samples=%d" % n not in log:
        raise RuntimeError("%s harness failed (exit %d): %s" % (core, p.returncode, log.strip()))
    insns = classes = ops = None
    if count_insns or per_op:
        from .. import cycles
        insns, classes, ops, segments = [], [], [], []
        for line in (work / "plugin.log").read_text().split("\n"):
            if line.startswith("op "):
                head, _, rest = line[3:].partition(" ")
                segments.append((int(head, 16), cycles.parse(rest)))
            elif line.startswith("region "):
                classes.append(cycles.parse(line[7:]) if core != "xtensa" else
                               {k: int(v) for k, v in (f.split("=") for f in line[7:].split())})
                if per_op:
                    ops.append(_per_op(core, model, segments, entries))
                segments = []
            elif line.startswith("insns "):
                insns.append(int(line.split()[1]))
        if len(insns) != n or len(classes) != n:
            raise RuntimeError("%s: %d instruction counts for %d samples" % (core, len(insns), n))
    outputs = unpack_outputs(model, (work / "outputs.bin").read_bytes(), n)
    return Result(core, outputs, insns, None, log, classes, ops if per_op else None)


def _rp2040_command(images):
    """The rp2040js runner on model.pml / inputs.bin / outputs.bin in its working folder."""
    return ["node", str(_rp2040js() / "run_rp2040.mjs"), str(images.rp2040), "model.pml", "inputs.bin", "outputs.bin"]


def _run_rp2040(images, blob, model, inputs, n, work, per_op=False, profile=False):
    import json
    (work / "model.pml").write_bytes(blob)
    (work / "inputs.bin").write_bytes(inputs)
    cmd = _rp2040_command(images) + (["--profile=profile.json"] if profile else [])
    entries = {}
    if per_op:
        elf = images.rp2040.with_suffix(".elf")
        entries = kernel_entries(elf)
        cmd += ["--ops=" + ":".join("%#x" % a for a in sorted(entries))]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
    try:
        report = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("rp2040js runner failed (exit %d): %s" % (p.returncode, (p.stdout + p.stderr).strip()))
    if p.returncode != 0 or report["status"] != 0:
        raise RuntimeError("m0plus harness failed: status %s, problems %s" % (report["status"], report["problems"]))
    outputs = unpack_outputs(model, (work / "outputs.bin").read_bytes(), n)
    ops = None
    if per_op:
        ops = [_per_op("m0plus", model, [(int(a), {"cycles": c, "insns": i}) for a, c, i in sample], entries)
               for sample in report["ops"]]
    functions = addresses = None
    if profile:
        addresses = [(int(a), int(c)) for a, c in json.loads((work / "profile.json").read_text())]
        functions = per_function(images.rp2040.with_suffix(".elf"), addresses)
    return Result("m0plus", outputs, report["insns"], report["cycles"], p.stdout, None, ops, functions, addresses)


def run(core, blob, samples, images=None, count_insns=True, model=None, per_op=False, profile=False):
    """Run `samples` (each an array in the model's input shape, or a list of them for several inputs) through the
    .pml `blob` on `core`; per_op: counts per op too (Result.ops); profile (m0plus): cycles per function of the
    kernels (Result.functions)."""
    if core not in CORES:
        raise ValueError("core must be one of %s" % (CORES,))
    if profile and core != "m0plus":
        raise PicomlError("profiles are counted on rp2040js's core (m0plus) only")
    if per_op and core == "xtensa":
        raise PicomlError("per-op counts are not counted on the xtensa core")
    images = images or built_images()
    blob = bytes(blob)
    model = model or _header(blob)
    inputs = pack_inputs(model, [x if isinstance(x, (list, tuple)) else [x] for x in samples])
    n = len(samples)
    with tempfile.TemporaryDirectory(prefix="picoml_baremetal_") as tmp:
        work = pathlib.Path(tmp)
        if core == "m0plus":
            return _run_rp2040(images, blob, model, inputs, n, work, per_op, profile)
        return _run_qemu(images, core, blob, model, inputs, n, work, count_insns, per_op)


def run_raw(core, blob, inputs, images=None):
    """Run raw input bytes through a possibly broken `blob`; returns the harness status (0, a negative
    pml_check / pml_invoke status, or a HARNESS_ERR_* code) instead of raising."""
    images = images or built_images()
    with tempfile.TemporaryDirectory(prefix="picoml_baremetal_") as tmp:
        work = pathlib.Path(tmp)
        (work / "model.pml").write_bytes(bytes(blob))
        (work / "inputs.bin").write_bytes(bytes(inputs))
        if core == "m0plus":
            import json
            p = subprocess.run(_rp2040_command(images), cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
            return json.loads(p.stdout.strip().splitlines()[-1])["status"]
        p = subprocess.run(_qemu_command(images, core), cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
        for line in (p.stdout + p.stderr).splitlines():
            if line.startswith("picoml-harness status="):
                return int(line.split()[1].split("=")[1])
        raise RuntimeError("no status from the %s harness: %s" % (core, (p.stdout + p.stderr).strip()))


class BareMetal(Runtime):
    """The runtimes bare-m4, bare-m0, bare-m0plus: the C kernels alone on an emulated core."""

    def __init__(self, core="m4"):
        if core not in CORES:
            raise PicomlError("unknown core %r: choose from %s" % (core, ", ".join(CORES)))
        self.core = core
        self.name = "bare-" + core

    def run_batch(self, pml_bytes, batch, backend=None):
        self.backend(backend)
        try:
            images = built_images()
            r = run(self.core, pml_bytes, [list(inputs) for inputs in batch], images)
        except (EmulatorMissing, RuntimeError) as e:
            raise PicomlError(str(e))
        return Batch(r.outputs, insns=r.insns, cycles=r.cycles)

    def bench(self, pml_bytes, backend=None, count=1, per_op=False):
        """Instructions of one inference (the mean over `count` zero inputs): on QEMU by class with the cycles
        estimated from them, on rp2040js its cycles; per_op: Bench.per_op, the first sample's counts per op."""
        from .. import cycles
        self.backend(backend)
        model = format.read(pml_bytes)
        try:
            r = run(self.core, pml_bytes, [zero_inputs(model)] * max(1, count), built_images(), per_op=per_op)
        except (EmulatorMissing, RuntimeError) as e:
            raise PicomlError(str(e))
        mean = lambda values: round(sum(values) / len(values)) if values else None  # noqa: E731
        result = Bench(self.name, instructions=mean(r.insns), cycles=mean(r.cycles))
        if self.core == "xtensa":
            result.note = ("and %d instructions in start.S's exception handlers (register-window spills and refills, "
                           "allocas, the software MUL32_HIGH, which an ESP32 does in one instruction each); no cycle "
                           "estimate: QEMU models no LX6 timing" % mean([c["vectors"] for c in r.classes]))
        elif r.classes:
            total = {}
            for counts in r.classes:
                total = cycles.add(total, counts)
            result.classes = cycles.scale(total, len(r.classes))
            result.cycles_estimate = cycles.estimate(result.classes, ESTIMATE_CORE[self.core])
        if per_op:
            result.per_op = []
            for name, counts in r.ops[0]:
                if "ldst" in counts:
                    counts = dict(counts, cycles_estimate=cycles.estimate(counts, ESTIMATE_CORE[self.core]))
                result.per_op.append((name, counts))
        return result

