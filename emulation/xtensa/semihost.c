// The semihosting interface of ../common/semihost.h over QEMU's Xtensa simulator calls (simcall, start.S's
// sim_call), for the Xtensa images: picoml's MicroPython port and the bare-metal harness.
#include <string.h>

#include "semihost.h"

int sim_call(int nr, int a, int b, int c);

// QEMU's xtensa simcall numbers (target/xtensa/xtensa-semi.c)
#define SIM_EXIT 1
#define SIM_READ 3
#define SIM_WRITE 4
#define SIM_OPEN 5
#define SIM_CLOSE 6
#define SIM_LSEEK 19
#define SIM_ARGC 1000
#define SIM_ARGV_SZ 1001
#define SIM_ARGV 1002

// open() flags as Debian's QEMU 7.2 takes them: it hands them to the host's open() unchanged, so Linux's values
// (seen with strace; later QEMUs translate gdb's File-I/O values instead: O_CREAT 0x200, O_TRUNC 0x400, O_APPEND 8)
#define HOST_O_RDONLY 0x0
#define HOST_O_WRONLY 0x1
#define HOST_O_RDWR 0x2
#define HOST_O_CREAT 0x40
#define HOST_O_TRUNC 0x200
#define HOST_O_APPEND 0x400

int sh_open(const char *path, int mode) {
    // Arm's ":tt" is the console: QEMU's descriptors 0 and 1
    if (strcmp(path, ":tt") == 0) {
        return mode < SH_MODE_W ? 0 : 1;
    }
    // Arm's modes r, r+, w, w+, a, a+ (each with its binary twin)
    static const int flags[6] = {
        HOST_O_RDONLY, HOST_O_RDWR, HOST_O_WRONLY | HOST_O_CREAT | HOST_O_TRUNC,
        HOST_O_RDWR | HOST_O_CREAT | HOST_O_TRUNC, HOST_O_WRONLY | HOST_O_CREAT | HOST_O_APPEND,
        HOST_O_RDWR | HOST_O_CREAT | HOST_O_APPEND,
    };
    if (mode < 0 || mode > SH_MODE_AB + 2) {
        return -1;
    }
    int fd = sim_call(SIM_OPEN, (int)(uintptr_t)path, flags[mode >> 1], 0644);
    return fd < 0 ? -1 : fd;
}

int sh_close(int fd) {
    return sim_call(SIM_CLOSE, fd, 0, 0) == 0 ? 0 : -1;
}

int sh_read(int fd, void *buf, size_t len) {
    int n = sim_call(SIM_READ, fd, (int)(uintptr_t)buf, (int)len);
    return n < 0 ? -1 : n;
}

int sh_write(int fd, const void *buf, size_t len) {
    int n = sim_call(SIM_WRITE, fd, (int)(uintptr_t)buf, (int)len);
    return n < 0 ? -1 : n;
}

int sh_seek(int fd, size_t pos) {
    return sim_call(SIM_LSEEK, fd, (int)pos, 0) == (int)pos ? 0 : -1;
}

int sh_flen(int fd) {
    int pos = sim_call(SIM_LSEEK, fd, 0, 1);
    if (pos < 0) {
        return -1;
    }
    int len = sim_call(SIM_LSEEK, fd, 0, 2);
    sim_call(SIM_LSEEK, fd, pos, 0);
    return len;
}

// QEMU's Xtensa semihosting has no unlink: os.remove() fails
int sh_remove(const char *path) {
    (void)path;
    return -1;
}

// the arguments of -semihosting-config arg=...,arg=... joined by spaces, as Arm's SYS_GET_CMDLINE gives them
int sh_cmdline(char *buf, size_t len) {
    static uint32_t argv[512];
    int argc = sim_call(SIM_ARGC, 0, 0, 0);
    int size = sim_call(SIM_ARGV_SZ, 0, 0, 0);
    if (argc < 0 || size < 0 || (size_t)size > sizeof(argv)) {
        return -1;
    }
    sim_call(SIM_ARGV, (int)(uintptr_t)argv, 0, 0);
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = (const char *)(uintptr_t)argv[i];
        size_t l = strlen(a);
        if (n + l + 1 > len) {
            return -1;
        }
        memcpy(buf + n, a, l);
        n += l;
        buf[n++] = i + 1 < argc ? ' ' : 0;
    }
    if (n == 0 && len > 0) {
        buf[0] = 0;
    }
    return 0;
}

// no host clock in QEMU's Xtensa semihosting
uint64_t sh_elapsed_ns(void) {
    return 0;
}

void sh_exit(int status) {
    sim_call(SIM_EXIT, status, 0, 0);
    for (;;) {
    }
}
