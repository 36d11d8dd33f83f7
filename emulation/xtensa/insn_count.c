/* QEMU TCG plugin: guest instructions executed between the harness's markers on the Xtensa image (docs/esp32.md).
 *   -plugin libinsn_count_xtensa.so,begin=0xADDR,end=0xADDR,vectors=0xLO:0xHI -d plugin -D log.txt
 * Each time the code at `end` runs, prints "insns N vectors V": the instructions executed since the code at
 * `begin` ran, outside the address range [LO, HI) of start.S's exception handlers (N), and inside it (V: window
 * spills and refills, allocas, and the software MUL32_HIGH, which the ESP32 does in one instruction: the faulting
 * mulsh/muluh itself is counted in N once). Debian's QEMU 7.2 ships no qemu-plugin.h: the declarations needed
 * are below (plugin API version 1). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t begin, end, vlo, vhi;
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
        if (pc == begin) {
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
    if (!begin || !end || vhi <= vlo) {
        fprintf(stderr, "insn_count_xtensa: begin=, end= and vectors=LO:HI are needed\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    return 0;
}
