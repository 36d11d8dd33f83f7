"""Cycle estimates from executed instructions by class: what the QEMU plugin emulation/baremetal/insn_count.c
counts (exact), converted with a core's timing table (an estimate). The one place for the tables; docs/benchmarks.md
prints them (table_lines).

    from picoml import cycles
    cycles.estimate(counts, "cortex-m4")     # counts: {"insns": .., "ldst": .., ...} as the plugin prints them
    cycles.CLASSES                           # the six classes; they sum to the instruction count

Cortex-M4: Arm's Cortex-M4 Technical Reference Manual (ARM 100166_0001_00_en, r0p1), Table 3-1 "Processor
instruction set summary", cycle counts for a system with zero wait states
(http://infocenter.arm.com/help/topic/com.arm.doc.100166_0001_00_en/ric1417175924567.html), and its section 3.3.2
"Load/store timings" (the pipelining of neighbouring loads and stores; reproduced in TI's SWCU192, "Cortex-M4F
instructions"). Cortex-M0+: rp2040js's model of the RP2040's core (emulation/rp2040js, cortex-m0-core.js: 1 cycle,
loads and stores 2, taken branches 2, BL 3, LDM/STM/PUSH/POP 1 + N, MSR/MRS/barriers 3), the two-stage pipeline's
timings; tests/test_cycles.py holds this table on QEMU's Cortex-M0 counts to rp2040js's cycles for the same kernels
(within 0.1% on DS-CNN: rp2040js charges no cycle for the lr of a PUSH, this table's 1 + N does).

What the estimate ignores: flash wait states and the flash cache (the nRF52840 runs code from flash through a cache;
the native module runs from RAM), bus contention between instruction fetch and data (code and data in the same
SRAM), the extra cycle of a load or store whose address comes from the instruction right before it (no forwarding
path), the alignment of branch targets (P is taken as 2 of its 1-3), divides' early termination (taken as the
middle of 2-12), IT folding, and floating-point multiply-accumulate latency. Each moves a real core's count; none
is in QEMU's output.
"""

CLASSES = ("ldst", "mul", "simd", "branch", "div", "other")
CLASS_NAMES = {"ldst": "loads/stores", "mul": "multiplies/MACs", "simd": "SIMD/DSP", "branch": "taken branches",
               "div": "divides", "other": "others"}
EVENTS = ("multi", "regs", "one", "refill", "bl", "tbb", "fpdiv", "sys")
COUNTERS = ("insns",) + CLASSES + EVENTS

P_M4 = 2   # pipeline refill after a taken branch: "1 to 3 depending on the alignment and width of the target
#            instruction, and whether the processor manages to speculate the address early" (TRM Table 3-1)

# Cycles per unit of each quantity (derived quantities first: single = ldst - multi, int_div = div - fpdiv), with
# the table row or note they come from.
TABLES = {
    "cortex-m4": (
        ("other", 1, "data processing, shifts, compares, moves, IT, a conditional branch not taken: 1"),
        ("mul", 1, "MUL, MLA, MLS, SMULL, UMULL, SMLAL, UMLAL, SMLA<x><y>, SMLAD, SMLALD, SMMUL, ...: 1"),
        ("simd", 1, "SXTB16, SXTAB16, PKHBT, SADD16, QADD, SEL, SSAT16, USAD8, ...: 1"),
        ("branch", 1, "B, BL, BX, BLX taken: 1 + P (P counted under refill)"),
        ("int_div", 7, "SDIV, UDIV: 2 to 12 (early termination on the operands' leading bits): 7"),
        ("fpdiv", 14, "VDIV, VSQRT: 14"),
        ("single", 2, "LDR, LDRB, LDRH, LDRSB, LDRSH, STR..., LDREX, VLDR, VSTR: 2"),
        ("one", -1, "one cycle less for a single load or store right after a single load (\"neighboring load and "
                    "store single instructions can pipeline their address and data phase\"), and for STR with an "
                    "immediate offset (\"always one cycle\", 3.3.2)"),
        ("multi", 1, "LDM, STM, PUSH, POP, LDRD, STRD, VLDM, VSTM: 1 + N"),
        ("regs", 1, "N: the registers moved"),
        ("refill", P_M4, "P: after a taken branch, POP or LDM with pc (1 + N + P), LDR pc (2 + P)"),
        ("tbb", 1, "TBB, TBH: 2 + P"),
    ),
    "cortex-m0plus": (
        ("other", 1, "data processing, moves, compares, a conditional branch not taken: 1"),
        ("mul", 1, "MULS: 1 (the single-cycle multiplier the RP2040 has)"),
        ("simd", 1, "(none on Armv6-M)"),
        ("branch", 1, "B, B<c> taken, BX, BLX: 2 (1 + the refill)"),
        ("int_div", 1, "(none on Armv6-M)"),
        ("fpdiv", 1, "(none on Armv6-M)"),
        ("single", 2, "LDR, STR and their byte/halfword forms: 2"),
        ("one", 0, "no load pipelining"),
        ("multi", 1, "LDM, STM, PUSH, POP: 1 + N"),
        ("regs", 1, "N: the registers moved"),
        ("refill", 1, "the refill of a taken branch; POP with pc: 3 + N (N without the pc)"),
        ("bl", 1, "BL: 3"),
        ("sys", 2, "MSR, MRS, DMB, DSB, ISB: 3"),
    ),
}
CORE_NAMES = {"cortex-m4": "Cortex-M4", "cortex-m0plus": "Cortex-M0+"}
SOURCES = {"cortex-m4": "Cortex-M4 Technical Reference Manual, Table 3-1 and 3.3.2",
           "cortex-m0plus": "Cortex-M0+: rp2040js's model"}


def parse(text):
    """{counter: value} of the plugin's "K=V K=V ..." fields."""
    counts = {}
    for field in text.split():
        key, _, value = field.partition("=")
        counts[key] = int(value)
    missing = [k for k in COUNTERS if k not in counts]
    if missing:
        raise ValueError("plugin counts lack %s: %r" % (", ".join(missing), text))
    return counts


def derived(counts):
    """The counts with the quantities the tables use (single, int_div) added."""
    out = dict(counts)
    out["single"] = counts["ldst"] - counts["multi"]
    out["int_div"] = counts["div"] - counts["fpdiv"]
    return out


def estimate(counts, core):
    """Estimated cycles on `core` ("cortex-m4" or "cortex-m0plus") of what `counts` counted."""
    if core not in TABLES:
        raise ValueError("no timing table for %r: choose from %s" % (core, ", ".join(TABLES)))
    values = derived(counts)
    return sum(values.get(name, 0) * cost for name, cost, _ in TABLES[core])


def add(a, b):
    """The sum of two count dicts."""
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}


def scale(counts, divisor):
    """Counts divided by `divisor` (the mean of that many inferences), rounded; the instructions the sum of the
    rounded classes, as in every count."""
    out = {k: max(0, round(v / divisor)) for k, v in counts.items()}
    out["insns"] = sum(out[c] for c in CLASSES)
    return out


def table_lines(core):
    """The timing table as markdown rows: quantity, cycles, what it covers."""
    lines = ["| counted | cycles | %s |" % SOURCES[core], "|---|---:|---|"]
    for name, cost, note in TABLES[core]:
        lines.append("| %s | %s | %s |" % (name, cost, note))
    return lines


# The board whose clock a core's cycles are projected to (boards/*.json clock_hz), per arch.
REFERENCE_BOARDS = {"armv7emsp": "seeed_xiao_nrf52840_sense", "armv6m": "rpi_pico_mpu6050_inmp441"}
BOARD_CHIPS = {"armv7emsp": "nRF52840", "armv6m": "RP2040"}


def board_clock(arch):
    """(chip name, clock in Hz) of the reference board of `arch` (armv7emsp: nRF52840, armv6m: RP2040)."""
    from . import boards
    return BOARD_CHIPS[arch], boards.load(REFERENCE_BOARDS[arch])["clock_hz"]


def model_macs(model):
    """{op index: MACs} and the total of a picoml.format model."""
    from . import report
    per = [report.macs(model, op) for op in model.ops]
    return per, sum(per)
