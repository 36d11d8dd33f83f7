#include <string.h>
#include "semihost.h"

#define ADP_STOPPED_APPLICATION_EXIT 0x20026

int sh_open(const char *path, int mode) {
    uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return sh_call(SH_SYS_OPEN, args);
}

int sh_close(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return sh_call(SH_SYS_CLOSE, args);
}

int sh_read(int fd, void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, (uint32_t)len};
    int left = sh_call(SH_SYS_READ, args);      // bytes NOT read
    if (left < 0 || (size_t)left > len) {
        return -1;
    }
    return (int)(len - left);
}

int sh_write(int fd, const void *buf, size_t len) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, (uint32_t)len};
    int left = sh_call(SH_SYS_WRITE, args);     // bytes NOT written
    if (left < 0 || (size_t)left > len) {
        return -1;
    }
    return (int)(len - left);
}

int sh_seek(int fd, size_t pos) {
    uint32_t args[2] = {(uint32_t)fd, (uint32_t)pos};
    return sh_call(SH_SYS_SEEK, args) == 0 ? 0 : -1;
}

int sh_flen(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return sh_call(SH_SYS_FLEN, args);
}

int sh_remove(const char *path) {
    uint32_t args[2] = {(uint32_t)path, (uint32_t)strlen(path)};
    return sh_call(SH_SYS_REMOVE, args);
}

int sh_errno(void) {
    return sh_call(SH_SYS_ERRNO, NULL);
}

int sh_cmdline(char *buf, size_t len) {
    uint32_t args[2] = {(uint32_t)buf, (uint32_t)len};
    return sh_call(SH_SYS_GET_CMDLINE, args) == 0 ? 0 : -1;
}

uint64_t sh_elapsed_ns(void) {
    uint32_t ticks[2] = {0, 0};
    if (sh_call(SH_SYS_ELAPSED, ticks) != 0) {
        return 0;
    }
    return ((uint64_t)ticks[1] << 32) | ticks[0];
}

void sh_exit(int status) {
    // SYS_EXIT_EXTENDED carries the exit code (plain SYS_EXIT on 32-bit Arm only knows success/failure)
    uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    sh_call(SH_SYS_EXIT_EXTENDED, args);
    sh_call(SH_SYS_EXIT, (const void *)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT : 0x20023));
    for (;;) {
    }
}
