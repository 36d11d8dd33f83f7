"""Instructions by class and the cycle estimates made from them (picoml.cycles, the QEMU plugin
emulation/baremetal/insn_count.c): the plugin's classes of a known instruction sequence, the estimate's arithmetic,
the classes summing to the instruction count on every emulated runtime, the Cortex-M0+ table against rp2040js's
cycles, and `picoml bench` printing the columns."""
import subprocess

import pytest

import models
from picoml import cycles, format, runtimes
from picoml.cli import main
from picoml.runtimes import bare, qemu

pytestmark = pytest.mark.emulated

# Run from `begin` (a branch target: a block starts there) to the block at `end`, on QEMU's Cortex-M4F, then
# exit through semihosting. Data in the RAM at 0x20000000 (a store into the code's page would retranslate it).
SEQUENCE = """
    .syntax unified
    .cpu cortex-m4
    .thumb
    .section .vectors, "a"
    .word 0x20001000
    .word reset + 1
    .data
data: .word 5, 3, 0, 0, 0, 0
    .text
    .thumb_func
reset:
    ldr r1, =data
    b begin
    .thumb_func
begin:
    ldr r0, [r1]            @ ldst, single: 2
    ldr r2, [r1, #4]        @ ldst, single after a single load: 1 ("one")
    str r2, [r1, #8]        @ ldst, single, store with an immediate offset (after a load too): 1 ("one")
    movs r5, #12            @ other
    str r0, [r1, r5]        @ ldst, single, register offset, not after a load: 2
    adds r0, r0, r2         @ other                         r0 = 8
    muls r0, r2, r0         @ mul                           r0 = 24
    smlad r0, r0, r2, r0    @ mul                           r0 = 96
    sxtb16 r3, r0           @ simd
    udiv r3, r0, r2         @ div
    pkhbt r3, r0, r2, lsl #16   @ simd
    qadd r3, r0, r2         @ simd
    ssat r3, #8, r0         @ other (Armv7-M's saturate, not the DSP extension's)
    smull r3, r4, r0, r2    @ mul
    cbz r0, 1f              @ not taken: other
    cbnz r0, 1f             @ taken: branch, refill
    nop                     @ (not run)
1:  push {r4, r5}           @ ldst, multi, 2 registers
    pop {r4, r5}            @ ldst, multi, 2 registers
    movs r4, #3             @ other
loop:
    subs r4, #1             @ other, 3 times
    bne loop                @ taken twice (branch, refill), not taken once (other)
    ldrd r2, r3, [r1]       @ ldst, multi, 2 registers
    ldm r1, {r2, r3}        @ ldst, multi, 2 registers
    bl func                 @ branch, taken: refill, bl
    bl far                  @ branch, taken: refill, bl
    bl end                  @ branch, taken: refill, bl
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
    .thumb_func
func:
    push {r4, lr}           @ ldst, multi, 2 registers
    pop {r4, pc}            @ ldst, multi, 2 registers, a load to the pc: refill
    .thumb_func
end:
    bx lr
    .ltorg
    @ at 0xffa (text from 0x8): QEMU ends a block before an instruction that crosses a page and reports that
    @ block's last instruction with the crossing one's first halfword appended (6 bytes)
    .org 0xff2
    .thumb_func
far:
    smlad r0, r0, r2, r0    @ mul, the last of its block
    smlad r0, r0, r2, r0    @ mul, across the page at 0x1000
    bx lr                   @ branch, taken: refill
"""
EXPECTED = {"insns": 35, "ldst": 10, "mul": 5, "simd": 3, "branch": 7, "div": 1, "other": 9,
            "multi": 6, "regs": 12, "one": 2, "refill": 8, "bl": 3, "tbb": 0, "fpdiv": 0, "sys": 0}


def _run_sequence(tmp_path):
    (tmp_path / "seq.S").write_text(SEQUENCE)
    elf = tmp_path / "seq.elf"
    subprocess.run([bare.CROSS + "gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles", "-Wl,-Ttext=0x8",
                    "-Wl,--section-start=.vectors=0", "-Wl,--section-start=.data=0x20000000",
                    "-Wl,--no-warn-rwx-segments", "-o", str(elf), str(tmp_path / "seq.S")], check=True)
    sym = bare.symbols(elf)
    plugin = "%s,begin=%#x,end=%#x" % (bare.built_images().plugin, sym["begin"], sym["end"])
    subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
                    "-semihosting-config", "enable=on,target=native", "-kernel", str(elf), "-plugin", plugin,
                    "-d", "plugin", "-D", str(tmp_path / "plugin.log")], check=True, timeout=60)
    regions = [line for line in (tmp_path / "plugin.log").read_text().splitlines() if line.startswith("region ")]
    assert len(regions) == 1
    return cycles.parse(regions[0][7:])


def test_plugin_classes_of_a_known_sequence(tmp_path):
    counts = _run_sequence(tmp_path)
    assert counts == EXPECTED
    assert sum(counts[c] for c in cycles.CLASSES) == counts["insns"]


def test_estimate_is_the_tables_arithmetic(tmp_path):
    counts = _run_sequence(tmp_path)
    # Cortex-M4 TRM: others, MACs, SIMD 1 each (9 + 5 + 3); taken branches 1 + P (7 x (1 + 2)); UDIV 2..12 (7);
    # 4 single loads/stores at 2, two of them 1 (2 + 1 + 1 + 2); PUSH, POP, LDRD, LDM 1 + N (6 + 12); POP {pc} + P
    assert cycles.P_M4 == 2
    assert cycles.estimate(counts, "cortex-m4") == 9 + 5 + 3 + 7 * (1 + 2) + 7 + (2 + 1 + 1 + 2) + (6 + 12) + 2 == 71
    # Cortex-M0+ (its table's arithmetic on the same counts; not all of these are Armv6-M instructions): others,
    # MACs, SIMD, divides 1 each (9 + 5 + 3 + 1); taken branches 2 (7 x 2), BL one more (3); single loads/stores 2
    # (4 x 2), no pipelining; 1 + N (6 + 12); POP {pc} one more for the refill
    assert cycles.estimate(counts, "cortex-m0plus") == 9 + 5 + 3 + 1 + 7 * 2 + 3 + 4 * 2 + (6 + 12) + 1 == 62
    with pytest.raises(ValueError):
        cycles.estimate(counts, "cortex-m7")


@pytest.fixture(scope="module")
def gesture():
    return (models.ROOT / "models" / "gesture" / "gesture.pml").read_bytes()


@pytest.mark.parametrize("name", ["bare-m4", "bare-m0"])
def test_classes_sum_to_the_instructions_bare_metal(gesture, name):
    r = runtimes.get(name).bench(gesture, per_op=True)
    assert r.instructions > 10 ** 5 and sum(r.classes[c] for c in cycles.CLASSES) == r.instructions
    assert r.cycles_estimate > r.instructions                    # loads take 2, branches refill
    model = format.read(gesture)
    assert [name for name, _ in r.per_op] == ["(walker)"] + [op.name for op in model.ops]
    assert sum(c["insns"] for _, c in r.per_op) == r.instructions
    for _, c in r.per_op:
        assert sum(c[k] for k in cycles.CLASSES) == c["insns"]
    assert sum(c["cycles_estimate"] for _, c in r.per_op) == r.cycles_estimate


@pytest.mark.parametrize("target", ["m4", "m0"])
def test_classes_sum_to_the_instructions_in_micropython(gesture, target):
    """The whole predict() inside MicroPython: exact counts, more than the kernels alone on the same zero input
    (bare-metal, QEMU) by the interpreter's call and the device library, less than 10% more on this model. (Not
    -icount's clock through Model.benchmark(): that feeds the input tensor's bytes, not zeros, and the kernels'
    work depends on the data.)"""
    r = qemu.Qemu(target, count_classes=True).bench(gesture, "native", count=2)
    assert sum(r.classes[c] for c in cycles.CLASSES) == r.instructions
    assert r.cycles_estimate == cycles.estimate(r.classes, qemu.TARGETS[target]["timing"])
    kernels = runtimes.get("bare-" + target).bench(gesture).instructions
    assert kernels < r.instructions < 1.1 * kernels
    assert r.heap_per_inference == 0


@pytest.mark.conformance
def test_m0plus_table_on_qemu_counts_matches_rp2040js():
    """The same armv6m kernels: QEMU's Cortex-M0 counts through the Cortex-M0+ table against rp2040js's cycles,
    per op, within 0.5% (rp2040js charges no cycle for the lr of a PUSH, the TRM's 1 + N does; the walker's
    span starts at the marker call on QEMU, at its bkpt on rp2040js: a few cycles apart)."""
    blob = models.pml("kws_ref_model")
    m0 = runtimes.get("bare-m0").bench(blob, per_op=True)
    m0plus = runtimes.get("bare-m0plus").bench(blob, per_op=True)
    assert m0.instructions == m0plus.instructions
    assert abs(m0.cycles_estimate - m0plus.cycles) < 0.005 * m0plus.cycles
    for (name, est), (name_js, measured) in zip(m0.per_op, m0plus.per_op):
        assert name == name_js and est["insns"] == measured["insns"]
        assert abs(est["cycles_estimate"] - measured["cycles"]) <= 0.005 * measured["cycles"] + 10, name


def test_bench_prints_the_columns(tmp_path, capsys, gesture):
    pml = tmp_path / "gesture.pml"
    pml.write_bytes(gesture)
    assert main(["bench", str(pml), "--on", "bare-m4", "--per-op"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("runtime"))
    for column in ("instructions", "cycles", "MACs", "MAC/cycle", "ms nRF52840 64MHz"):
        assert column in header
    row = next(line for line in out.splitlines() if line.startswith("bare-m4")).split()
    insns, est, macs = int(row[1]), int(row[2]), int(row[4])
    assert row[3] == "(est.)" and est > insns > 0 and macs == 131168
    assert float(row[5]) == pytest.approx(macs / est, abs=1e-3) and float(row[6]) == pytest.approx(est / 64e3, 0.01)
    assert "by class: loads/stores" in out and "FULLY_CONNECTED" in out and "(walker)" in out

    assert main(["bench", str(pml), "--on", "rp2040"]) == 0
    out = capsys.readouterr().out
    assert "no MicroPython" in out and "semihosting" in out
    row = next(line for line in out.splitlines() if line.startswith("bare-m0plus")).split()
    assert row[3] == "(rp2040js)" and "ms RP2040 125MHz" in out

    assert main(["bench", str(pml), "--on", "qemu-m4", "--per-op"]) == 2     # the kernels alone only


def test_bench_inside_micropython_prints_estimated_cycles(tmp_path, capsys, gesture):
    pml = tmp_path / "gesture.pml"
    pml.write_bytes(gesture)
    assert main(["bench", str(pml), "--on", "qemu-m0", "--backends", "native"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("qemu-m0 native")).split()
    assert int(row[2]) > 0 and row[4] == "(est.)" and "ms RP2040 125MHz" in out and "Cortex-M0+" in out


def test_bench_times_a_backend_that_allocates_more_than_the_free_heap(tmp_path, capsys, gesture):
    """The pure-Python kernels' long ints on a 32-bit board come to more than the free heap per inference with the
    collector off: the model still runs (collected between inferences) and is timed; the heap column says so
    (it was reported as not fitting: the allocation was measured over several inferences with the collector off).
    The other backends allocate nothing, with the model in the heap or in flash (a global made inside the
    measured span once showed as 16 bytes)."""
    pml = tmp_path / "gesture.pml"
    pml.write_bytes(gesture)
    assert main(["bench", str(pml), "--on", "qemu-m4", "--backends", "python,viper,native"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith("qemu-m4 ")}
    assert int(rows["python"][2]) > int(rows["viper"][2]) > int(rows["native"][2]) > 0, out
    assert rows["python"][-2:] == ["over", "free"] and rows["viper"][-1] == rows["native"][-1] == "0", out
    for backend in ("viper", "native"):
        assert qemu.Qemu("m4", model_in="flash").bench(gesture, backend, count=2).heap_per_inference == 0
