/* QEMU TCG plugin: guest instructions executed between the harness's markers on the Xtensa image (docs/esp32.md).
 *   -plugin libinsn_count_xtensa.so,begin=0xADDR,end=0xADDR,vectors=0xLO:0xHI -d plugin -D log.txt
 * Each time the code at `end` runs, prints "insns N vectors V": the instructions executed since the code at
 * `begin` ran, outside the address range [LO, HI) of start.S's exception handlers (N), and inside it (V: window
 * spills and refills, allocas, and the software MUL32_HIGH, which the ESP32 does in one instruction: the faulting
 * mulsh/muluh itself is counted in N once). The plugin API's declarations:
 * emulation/baremetal/qemu_plugin_api.h.
 *   -plugin libinsn_count_xtensa.so,mark=0xADDR,vectors=0xLO:0xHI -d plugin -D log.txt
 * instead prints "mark insns=N vectors=V" each time the code at `mark` runs: the counts since the previous time
 * (picoml's MicroPython port on this core: mark is its time_ticks_cpu, picoml.runtimes.qemu). */
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

static uint64_t begin, end, mark, vlo, vhi;
static uint64_t main_count, vector_count;
static bool counting;

static void on_main(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    main_count++;
}

static void on_vector(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    vector_count++;
}

static void on_begin(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    counting = true;
    main_count = vector_count = 0;
}

static void on_end(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    if (counting) {
        char line[96];
        snprintf(line, sizeof line, "insns %" PRIu64 " vectors %" PRIu64 "\n", main_count, vector_count);
        qemu_plugin_outs(line);
    }
    counting = false;
}

static void on_mark(unsigned int vcpu, void *udata) {
    (void)vcpu;
    (void)udata;
    if (counting) {
        char line[96];
        snprintf(line, sizeof line, "mark insns=%" PRIu64 " vectors=%" PRIu64 "\n", main_count, vector_count);
        qemu_plugin_outs(line);
    }
    counting = true;
    main_count = vector_count = 0;
}

static void on_insn(unsigned int vcpu, void *udata) {
    if (counting) {
        (udata ? on_vector : on_main)(vcpu, udata);
    }
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (mark && pc == mark) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (pc == begin) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (pc == end) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS,
                                                   (pc >= vlo && pc < vhi) ? (void *)1 : NULL);
        }
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "begin=", 6) == 0) {
            begin = strtoull(argv[i] + 6, NULL, 0);
        } else if (strncmp(argv[i], "mark=", 5) == 0) {
            mark = strtoull(argv[i] + 5, NULL, 0);
        } else if (strncmp(argv[i], "end=", 4) == 0) {
            end = strtoull(argv[i] + 4, NULL, 0);
        } else if (strncmp(argv[i], "vectors=", 8) == 0) {
            char *colon;
            vlo = strtoull(argv[i] + 8, &colon, 0);
            vhi = *colon == ':' ? strtoull(colon + 1, NULL, 0) : 0;
        } else {
            fprintf(stderr, "insn_count_xtensa: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if ((!mark && (!begin || !end)) || vhi <= vlo) {
        fprintf(stderr, "insn_count_xtensa: begin= and end= (or mark=) and vectors=LO:HI are needed\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    return 0;
}
