#!/usr/bin/env bash
# Everything beyond Python that the build and the tests use: from apt the Arm cross compiler with newlib
# (Cortex-M native modules, bare-metal images), QEMU (Cortex-M4F mps2-an386, Cortex-M0 microbit) and socat
# (the virtual board behind a pseudo-terminal), clang-22/llvm-22 with C headers for the ESP32's Xtensa (docs/esp32.md), espeak-ng (spoken words for the keyword data); from npm rp2040js (Cortex-M0+ with cycle counts) into
# emulation/rp2040js/node_modules. Idempotent and non-interactive: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm socat espeak-ng
          clang-22 llvm-22 picolibc-xtensa-lx106-elf   # ESP32 native module: Xtensa clang, llvm-mc, C headers
          qemu-system-misc binutils-xtensa-lx106)     # its kernels on QEMU's Xtensa core, linked by GNU ld
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "picoml: please install: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "picoml: npm (Node.js 18+) is needed for rp2040js: please install nodejs and npm" >&2
    exit 1
fi
if [ ! -f emulation/rp2040js/node_modules/rp2040js/package.json ] \
    || [ emulation/rp2040js/package.json -nt emulation/rp2040js/node_modules/.package-lock.json ] \
    || { [ -f emulation/rp2040js/package-lock.json ] && [ emulation/rp2040js/package-lock.json -nt emulation/rp2040js/node_modules/.package-lock.json ]; }; then
    if [ -f emulation/rp2040js/package-lock.json ]; then
        (cd emulation/rp2040js && npm ci --no-audit --no-fund --loglevel=error)
    else
        (cd emulation/rp2040js && npm install --no-audit --no-fund --loglevel=error)
    fi
fi
