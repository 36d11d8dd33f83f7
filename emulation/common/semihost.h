// Arm semihosting (bkpt 0xab), shared by the QEMU images (picoml's MicroPython port, the bare-metal harness):
// console, files, command line, clock and exit, all served by QEMU (-semihosting-config enable=on,target=native).
// Calls return what the Arm semihosting spec says.
#ifndef PICOML_EMULATION_SEMIHOST_H
#define PICOML_EMULATION_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#define SH_SYS_OPEN         0x01
#define SH_SYS_CLOSE        0x02
#define SH_SYS_WRITE        0x05
#define SH_SYS_READ         0x06
#define SH_SYS_SEEK         0x0a
#define SH_SYS_FLEN         0x0c
#define SH_SYS_REMOVE       0x0e
#define SH_SYS_ERRNO        0x13
#define SH_SYS_GET_CMDLINE  0x15
#define SH_SYS_EXIT         0x18
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_SYS_ELAPSED      0x30
#define SH_SYS_TICKFREQ     0x31

// SYS_OPEN modes (ISO C fopen modes, in the spec's order)
#define SH_MODE_R   0
#define SH_MODE_RB  1
#define SH_MODE_RPB 3
#define SH_MODE_W   4
#define SH_MODE_WB  5
#define SH_MODE_WPB 7
#define SH_MODE_A   8
#define SH_MODE_AB  9

#if defined(__arm__)    // (the Xtensa images: the calls below over its simulator calls, ../xtensa/semihost.c)
static inline int sh_call(int op, const void *arg) {
    register int r0 __asm__ ("r0") = op;
    register const void *r1 __asm__ ("r1") = arg;
    __asm__ volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}
#endif

int sh_open(const char *path, int mode);              // a handle >= 0, or -1
int sh_close(int fd);
int sh_read(int fd, void *buf, size_t len);           // bytes read, or -1 on an error
int sh_write(int fd, const void *buf, size_t len);    // bytes written, or -1
int sh_seek(int fd, size_t pos);                      // 0 or -1
int sh_flen(int fd);                                  // file length, or -1
int sh_remove(const char *path);
int sh_errno(void);
int sh_cmdline(char *buf, size_t len);                // 0 or -1; buf holds the arguments joined by spaces
uint64_t sh_elapsed_ns(void);                         // host nanoseconds since QEMU started (0 if unsupported)
__attribute__((noreturn)) void sh_exit(int status);   // QEMU exits with `status`

#endif
