/* QEMU TCG plugin: guest instructions executed between markers, by class, for the picoml harness images and for
 * picoml's MicroPython port. Classes for Thumb (ARMv6-M and ARMv7E-M); on Xtensa (vectors=) instructions only.
 *   -plugin libinsn_count.so,begin=0xADDR,end=0xADDR[,ops=0xA:0xB:...] -d plugin -D log.txt
 *   -plugin libinsn_count.so,mark=0xADDR -d plugin -D log.txt
 *   -plugin libinsn_count.so,begin=0xADDR,end=0xADDR|mark=0xADDR,vectors=0xLO:0xHI -d plugin -D log.txt
 * begin/end: each time the code at `end` runs, prints "region K=V ..." and "insns N": what was executed from the
 * start of the block at `begin` (included) to the block at `end` (excluded). With ops=, the code at each of those
 * addresses (the kernels' entry points) starts a new segment: "op 0xADDR K=V ..." per segment, before the
 * region's lines; the part from `begin` to the first op entry is "op 0x0 ...".
 * mark: each time the code at ADDR runs, prints "mark K=V ..." for what ran since its previous run.
 * At exit prints "total N", every instruction executed (not with vectors=).
 *
 * The counters (the first six are the classes: each instruction is in exactly one, they sum to insns):
 *   ldst    loads and stores: single (LDR*, STR*, LDREX/STREX, VLDR/VSTR), and multiple (LDM, STM, PUSH, POP,
 *           LDRD, STRD, VLDM, VSTM, VPUSH, VPOP; POP {..., pc} too)
 *   mul     multiplies and multiply-accumulates (MUL, MLA, MLS, SMULL, UMULL, SMLAL, UMLAL, SMLAxy, SMLAD, SMUAD,
 *           SMLAW, SMLSD, SMMUL, SMMLA, ...)
 *   simd    the DSP extension's other instructions (SXTB16, SXTAB, PKHBT, SADD16, QADD, SEL, SSAT16, USAD8, ...)
 *   branch  taken branches (B, B<c> and CBZ/CBNZ when taken, BL, BX, BLX, TBB, TBH, MOV/ADD to pc)
 *   div     SDIV, UDIV, VDIV, VSQRT
 *   other   everything else, conditional branches not taken included
 * and the events a timing table needs (not classes):
 *   multi   load/store-multiple instructions (of ldst; LDRD/STRD included), regs: registers they move (N)
 *   one     single loads/stores that a Cortex-M4 completes in one cycle: one right after a single load in the
 *           same straight-line block (pipelined), and a store with an immediate offset
 *   refill  pipeline refills: taken branches and loads to the pc (POP {pc}, LDM with pc, LDR pc)
 *   bl      BL executed; tbb: TBB/TBH executed; fpdiv: VDIV/VSQRT; sys: MSR, MRS, DMB, DSB, ISB
 * Whether a block's last instruction (a branch, or a load to the pc) was taken is known when the next block
 * starts: taken unless it starts right after that instruction. So every block calls back on execution.
 * vectors=LO:HI (the Xtensa images, whose exceptions leave blocks in their middle: window spills and refills,
 * allocas, the software MUL32_HIGH) counts instruction by instruction instead, only insns and, apart, `vectors`:
 * those in [LO, HI), start.S's exception handlers (a faulting instruction is counted again when it is retried,
 * the software mulsh/muluh once). The instructions at begin, end and mark are not counted there.
 * The plugin API's declarations: emulation/baremetal/qemu_plugin_api.h. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* ------------------------------------------------------------------------------------------------------------ */
/* Counters */

enum { C_INSNS, C_LDST, C_MUL, C_SIMD, C_BRANCH, C_DIV, C_OTHER,
       C_MULTI, C_REGS, C_ONE, C_REFILL, C_BL, C_TBB, C_FPDIV, C_SYS, N_COUNTERS };
static const char *const NAMES[N_COUNTERS] = {"insns", "ldst", "mul", "simd", "branch", "div", "other",
                                              "multi", "regs", "one", "refill", "bl", "tbb", "fpdiv", "sys"};

typedef struct {
    uint64_t c[N_COUNTERS];
} counts_t;

static void add(counts_t *to, const counts_t *from) {
    for (int i = 0; i < N_COUNTERS; i++) {
        to->c[i] += from->c[i];
    }
}

static void print_counts(const char *head, const counts_t *k) {
    char line[512];
    int n = snprintf(line, sizeof line, "%s", head);
    for (int i = 0; i < N_COUNTERS && n < (int)sizeof line; i++) {
        n += snprintf(line + n, sizeof line - (size_t)n, " %s=%" PRIu64, NAMES[i], k->c[i]);
    }
    if (n < (int)sizeof line - 1) {
        line[n++] = '\n';
        line[n] = 0;
    }
    qemu_plugin_outs(line);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Decoding (ARMv7-M Architecture Reference Manual, A5 "The Thumb instruction set encoding") */

typedef struct {
    int cls;        /* C_LDST .. C_OTHER, as executed (a branch: when taken) */
    int branch;     /* a branch: C_BRANCH when taken, C_OTHER when not */
    int pc_load;    /* a load that writes the pc */
    int single, load, store_imm, multi, regs, bl, tbb, fpdiv, sys;
} insn_t;

static int popcount(uint32_t x) {
    int n = 0;
    for (; x; x &= x - 1) {
        n++;
    }
    return n;
}

static void coprocessor(uint16_t hw1, uint16_t hw2, insn_t *d) {
    if (((hw2 >> 9) & 7) != 5) {        /* coprocessors 10 and 11 are the FPU; any other: other */
        return;
    }
    if ((hw1 & 0x0e00) == 0x0c00) {     /* 110x: loads/stores, 64-bit transfers */
        if ((hw1 & 0x0fe0) == 0x0c40) { /* VMOV of two core registers */
            return;
        }
        d->cls = C_LDST;
        if ((hw1 & 0x0120) == 0x0100) { /* VLDR / VSTR */
            d->single = 1;
            d->load = (hw1 >> 4) & 1;
        } else {                        /* VLDM / VSTM / VPUSH / VPOP: imm8 words */
            d->multi = 1;
            d->regs = hw2 & 0xff;
        }
    } else if ((hw1 & 0x0f00) == 0x0e00 && !(hw2 & 0x10)) {    /* FP data processing */
        int opc1 = (hw1 >> 4) & 0xb, opc2 = hw1 & 0xf, opc3 = (hw2 >> 6) & 3;
        if (opc1 == 0x8 || (opc1 == 0xb && opc2 == 1 && opc3 == 3)) {    /* VDIV, VSQRT */
            d->cls = C_DIV;
            d->fpdiv = 1;
        }
    }
}

static void decode16(uint16_t hw1, insn_t *d) {
    if ((hw1 >> 10) == 0x10) {                          /* 010000 data processing */
        if (((hw1 >> 6) & 0xf) == 0xd) {
            d->cls = C_MUL;                             /* MULS */
        }
    } else if ((hw1 >> 10) == 0x11) {                   /* 010001 special data, BX, BLX */
        int op = (hw1 >> 6) & 0xf, rd = ((hw1 >> 4) & 8) | (hw1 & 7);
        if ((op & 0xc) == 0xc || ((op & 0xc) != 0x4 && rd == 15)) {  /* BX, BLX; ADD/MOV to pc */
            d->branch = 1;
        }
    } else if ((hw1 >> 11) == 0x09) {                   /* 01001 LDR literal */
        d->cls = C_LDST;
        d->single = d->load = 1;
    } else if ((hw1 >> 12) == 0x5) {                    /* 0101 register offset */
        d->cls = C_LDST;
        d->single = 1;
        d->load = ((hw1 >> 9) & 7) >= 3;
    } else if ((hw1 >> 13) == 0x3 || (hw1 >> 12) == 0x8 || (hw1 >> 12) == 0x9) {  /* immediate offset */
        d->cls = C_LDST;
        d->single = 1;
        d->load = (hw1 >> 11) & 1;
        d->store_imm = !d->load;
    } else if ((hw1 >> 12) == 0xb) {                    /* 1011 miscellaneous */
        if ((hw1 & 0x0600) == 0x0400) {                 /* PUSH / POP (bit 8: lr / pc) */
            d->cls = C_LDST;
            d->multi = 1;
            d->regs = popcount(hw1 & 0x1ff);
            d->pc_load = (hw1 & 0x0800) && (hw1 & 0x0100);
        } else if ((hw1 & 0x0500) == 0x0100) {          /* CBZ / CBNZ */
            d->branch = 1;
        }
    } else if ((hw1 >> 12) == 0xc) {                    /* LDM / STM */
        d->cls = C_LDST;
        d->multi = 1;
        d->regs = popcount(hw1 & 0xff);
    } else if ((hw1 >> 12) == 0xd) {                    /* B<c>; UDF, SVC */
        d->branch = ((hw1 >> 8) & 0xf) < 14;
    } else if ((hw1 >> 11) == 0x1c) {                   /* B */
        d->branch = 1;
    }
}

static void decode32(uint16_t hw1, uint16_t hw2, insn_t *d) {
    int op1 = (hw1 >> 11) & 3;
    if (op1 == 1) {                                     /* 11101 */
        if ((hw1 & 0x0600) == 0x0000) {
            if (!(hw1 & 0x0040)) {                      /* LDM / STM */
                d->cls = C_LDST;
                d->multi = 1;
                d->regs = popcount(hw2);
                d->pc_load = (hw1 & 0x10) && (hw2 & 0x8000);
            } else {
                int a = (hw1 >> 7) & 3, b = (hw1 >> 4) & 3;
                if (a == 0 && b < 2) {                  /* LDREX / STREX */
                    d->cls = C_LDST;
                    d->single = 1;
                    d->load = b;
                } else if (a == 1 && b == 1 && ((hw2 >> 4) & 0xf) <= 1) {   /* TBB / TBH */
                    d->branch = d->tbb = 1;
                } else if (a == 1 && b < 2) {           /* LDREXB/H, STREXB/H */
                    d->cls = C_LDST;
                    d->single = 1;
                    d->load = b;
                } else {                                /* LDRD / STRD */
                    d->cls = C_LDST;
                    d->multi = 1;
                    d->regs = 2;
                }
            }
        } else if ((hw1 & 0x0600) == 0x0200) {          /* data processing, shifted register */
            if (((hw1 >> 5) & 0xf) == 0x6) {
                d->cls = C_SIMD;                        /* PKHBT / PKHTB */
            }
        } else {
            coprocessor(hw1, hw2, d);
        }
    } else if (op1 == 2) {                              /* 11110 */
        if (!(hw2 & 0x8000)) {                          /* data processing, immediate */
            int op = (hw1 >> 4) & 0x1f;
            if ((hw1 & 0x0200) && (op == 0x12 || op == 0x1a) && !(hw2 & 0x70c0)) {
                d->cls = C_SIMD;                        /* SSAT16 / USAT16 */
            }
        } else {                                        /* branches, miscellaneous control */
            int op2 = (hw2 >> 12) & 5;
            if (op2 == 5) {
                d->branch = d->bl = 1;                  /* BL */
            } else if (op2 == 1) {
                d->branch = 1;                          /* B.W */
            } else if (op2 == 0) {
                if (((hw1 >> 7) & 7) != 7) {
                    d->branch = 1;                      /* B<c>.W */
                } else {
                    d->sys = 1;                         /* MSR, MRS, barriers, hints */
                }
            }
        }
    } else {                                            /* 11111 */
        if ((hw1 & 0xfe00) == 0xf800) {                 /* load / store single */
            int reg_offset = !(hw1 & 0x0080) && !(hw2 & 0x0fc0);
            d->cls = C_LDST;
            d->single = 1;
            d->load = (hw1 >> 4) & 1;
            d->store_imm = !d->load && !reg_offset;
            d->pc_load = d->load && ((hw1 >> 5) & 3) == 2 && (hw2 >> 12) == 15;
        } else if ((hw1 & 0xff00) == 0xfa00) {          /* data processing, register */
            int a = (hw1 >> 4) & 0xf, b = (hw2 >> 4) & 0xf;
            if ((hw2 & 0xf000) != 0xf000) {
                return;
            }
            if (!(a & 8)) {
                if ((b & 8) && ((a & 7) == 2 || (a & 7) == 3 || (hw1 & 0xf) != 15)) {
                    d->cls = C_SIMD;                    /* SXTB16, UXTB16 and the extend-and-add forms */
                }
            } else if ((b & 0xc) == 0x0 || (b & 0xc) == 0x4) {
                d->cls = C_SIMD;                        /* parallel add / subtract */
            } else if ((b & 0xc) == 0x8) {
                int x = a & 3, y = b & 3;
                if (x == 0 || (x == 2 && y == 0)) {
                    d->cls = C_SIMD;                    /* QADD, QDADD, QSUB, QDSUB; SEL */
                }
            }
        } else if ((hw1 & 0xff80) == 0xfb00) {          /* multiply, multiply-accumulate, USAD8 */
            d->cls = ((hw1 >> 4) & 7) == 7 ? C_SIMD : C_MUL;
        } else if ((hw1 & 0xff80) == 0xfb80) {          /* long multiply, divide */
            int op = (hw1 >> 4) & 7;
            d->cls = op == 1 || op == 3 ? C_DIV : C_MUL;
        } else if ((hw1 & 0x0c00) == 0x0c00) {
            coprocessor(hw1, hw2, d);
        }
    }
}

static void decode(const uint8_t *bytes, size_t size, insn_t *d) {
    uint16_t hw1 = (uint16_t)(bytes[0] | (bytes[1] << 8));
    memset(d, 0, sizeof *d);
    d->cls = C_OTHER;
    if (size == 4) {
        decode32(hw1, (uint16_t)(bytes[2] | (bytes[3] << 8)), d);
    } else {
        decode16(hw1, d);
    }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Blocks */

enum { KIND_PLAIN, KIND_BEGIN, KIND_END, KIND_OP, KIND_MARK };

typedef struct {
    uint64_t vaddr;
    int kind;
    counts_t fixed;         /* every instruction but a last one that may branch */
    counts_t taken;         /* that last one, taken */
    counts_t not_taken;     /* that last one, not taken */
    uint64_t fallthrough;   /* the address after it; 0: the block ends with no branch */
} block_t;

static uint64_t decoded, differing;

/* A block's counts from its decoded instructions: the bytes in guest memory where QEMU gives their host address
 * (else the copy QEMU's translator made); how often that copy differs is printed at exit, a check on both. */
static void count_block(struct qemu_plugin_tb *tb, block_t *b) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    int after_load = 0;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *copy = qemu_plugin_insn_data(in), *memory = qemu_plugin_insn_haddr(in);
        /* the size from the Thumb encoding (a first halfword 11101, 11110 or 11111: 32 bits): QEMU reports a
         * TB's last instruction before one that crosses a page with that one's first halfword appended (size 6,
         * which decoded as 16 bits put a 32-bit multiply in "other") */
        const size_t size = qemu_plugin_insn_size(in) >= 4 && (copy[1] & 0xf8) >= 0xe8 ? 4 : 2;
        insn_t d;
        decoded++;
        differing += memory && memcmp(memory, copy, size) != 0;
        decode(memory ? memory : copy, size, &d);
        counts_t *k = &b->fixed;
        if (i == n - 1 && (d.branch || d.pc_load)) {
            b->fallthrough = qemu_plugin_insn_vaddr(in) + size;
            k = &b->taken;
            k->c[C_REFILL]++;
        }
        k->c[C_INSNS]++;
        k->c[d.branch ? C_BRANCH : d.cls]++;
        k->c[C_MULTI] += (uint64_t)d.multi;
        k->c[C_REGS] += (uint64_t)d.regs;
        k->c[C_ONE] += (uint64_t)(d.single && (after_load || d.store_imm));
        k->c[C_BL] += (uint64_t)d.bl;
        k->c[C_TBB] += (uint64_t)d.tbb;
        k->c[C_FPDIV] += (uint64_t)d.fpdiv;
        k->c[C_SYS] += (uint64_t)d.sys;
        if (k == &b->taken) {
            b->not_taken = b->taken;
            b->not_taken.c[C_REFILL]--;
            if (d.branch) {
                b->not_taken.c[C_BRANCH]--;
                b->not_taken.c[C_OTHER]++;
                b->not_taken.c[C_BL] -= (uint64_t)d.bl;
                b->not_taken.c[C_TBB] -= (uint64_t)d.tbb;
            }
        }
        after_load = d.single && d.load;
    }
}

static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX, mark_addr = UINT64_MAX;
static uint64_t *op_addrs;
static size_t n_op_addrs;
static uint64_t total;
static int in_region, marked;
static uint64_t segment_addr;
static counts_t region, segment;
static const block_t *pending;  /* the last block run, when it ends with an instruction that may branch */

static void credit(counts_t *k) {
    total += k->c[C_INSNS];
    if (in_region || marked) {
        add(&region, k);
        add(&segment, k);
    }
}

static void close_segment(void) {
    if (n_op_addrs && in_region) {
        char head[40];
        snprintf(head, sizeof head, "op %#" PRIx64, segment_addr);
        print_counts(head, &segment);
    }
    memset(&segment, 0, sizeof segment);
}

static void on_block(unsigned int vcpu, void *userdata) {
    const block_t *b = userdata;
    (void)vcpu;
    if (pending) {          /* the previous block's last instruction: taken unless this block starts after it */
        counts_t k = b->vaddr == pending->fallthrough ? pending->not_taken : pending->taken;
        credit(&k);
        pending = NULL;
    }
    if (b->kind == KIND_BEGIN) {
        in_region = 1;
        segment_addr = 0;
        memset(&region, 0, sizeof region);
        memset(&segment, 0, sizeof segment);
    } else if (b->kind == KIND_END && in_region) {
        char line[64];
        close_segment();
        print_counts("region", &region);
        snprintf(line, sizeof line, "insns %" PRIu64 "\n", region.c[C_INSNS]);
        qemu_plugin_outs(line);
        in_region = 0;
    } else if (b->kind == KIND_OP && in_region) {
        close_segment();
        segment_addr = b->vaddr;
    } else if (b->kind == KIND_MARK) {
        if (marked) {
            print_counts("mark", &region);
        }
        marked = 1;
        memset(&region, 0, sizeof region);
    }
    counts_t k = b->fixed;
    credit(&k);
    if (b->fallthrough) {
        pending = b;
    }
}

static uint64_t vectors_lo, vectors_hi, insns, vectors;

static void on_insn(unsigned int vcpu, void *in_vectors) {
    (void)vcpu;
    if (in_region || marked) {
        *(in_vectors ? &vectors : &insns) += 1;
    }
}

static void on_marker(unsigned int vcpu, void *kind) {
    char line[128];
    (void)vcpu;
    if ((uintptr_t)kind == KIND_END && in_region) {
        snprintf(line, sizeof line, "region insns=%" PRIu64 " vectors=%" PRIu64 "\ninsns %" PRIu64 "\n", insns,
                 vectors, insns);
        qemu_plugin_outs(line);
    } else if ((uintptr_t)kind == KIND_MARK && marked) {
        snprintf(line, sizeof line, "mark insns=%" PRIu64 " vectors=%" PRIu64 "\n", insns, vectors);
        qemu_plugin_outs(line);
    }
    in_region = (uintptr_t)kind == KIND_BEGIN || ((uintptr_t)kind != KIND_END && in_region);
    marked |= (uintptr_t)kind == KIND_MARK;
    insns = vectors = 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    for (size_t i = 0; vectors_hi && i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(in);
        uintptr_t kind = pc == mark_addr ? KIND_MARK : pc == begin_addr ? KIND_BEGIN : pc == end_addr ? KIND_END
                       : KIND_PLAIN;
        qemu_plugin_register_vcpu_insn_exec_cb(in, kind == KIND_PLAIN ? on_insn : on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                               kind != KIND_PLAIN ? (void *)kind
                                               : (void *)(uintptr_t)(pc >= vectors_lo && pc < vectors_hi));
    }
    if (vectors_hi) {
        return;
    }
    block_t *b = calloc(1, sizeof *b);     /* kept: QEMU may run the block until the end */
    if (!b) {
        return;
    }
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->kind = b->vaddr == begin_addr ? KIND_BEGIN : b->vaddr == end_addr ? KIND_END
            : b->vaddr == mark_addr ? KIND_MARK : KIND_PLAIN;
    for (size_t i = 0; i < n_op_addrs && b->kind == KIND_PLAIN; i++) {
        if (b->vaddr == op_addrs[i]) {
            b->kind = KIND_OP;
        }
    }
    count_block(tb, b);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
    char line[64];
    (void)id;
    (void)userdata;
    if (pending) {
        total += pending->taken.c[C_INSNS];
    }
    snprintf(line, sizeof line, "total %" PRIu64 " (decoded %" PRIu64 ", copy differing %" PRIu64 ")\n", total,
             decoded, differing);
    qemu_plugin_outs(line);
}

static int parse_ops(const char *text) {
    size_t n = 1;
    for (const char *p = text; *p; p++) {
        n += *p == ':';
    }
    op_addrs = calloc(n, sizeof *op_addrs);
    if (!op_addrs) {
        return -1;
    }
    for (const char *p = text; *p;) {
        char *next;
        op_addrs[n_op_addrs++] = strtoull(p, &next, 0) & ~1ull;
        if (next == p || (*next && *next != ':')) {
            return -1;
        }
        p = *next ? next + 1 : next;
    }
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "begin=", 6) == 0) {
            begin_addr = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        } else if (strncmp(argv[i], "end=", 4) == 0) {
            end_addr = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        } else if (strncmp(argv[i], "mark=", 5) == 0) {
            mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~1ull;
        } else if (strncmp(argv[i], "ops=", 4) == 0 && parse_ops(argv[i] + 4) == 0) {
            continue;
        } else if (strncmp(argv[i], "vectors=", 8) == 0 && sscanf(argv[i] + 8, "%" SCNx64 ":%" SCNx64, &vectors_lo,
                                                                    &vectors_hi) == 2 && vectors_lo < vectors_hi) {
            continue;
        } else {
            fprintf(stderr, "insn_count: bad argument %s\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    if (!vectors_hi) {
        qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    }
    return 0;
}
