#!/usr/bin/env bash
# Debian packages the build needs beyond Python: the Arm cross compiler for the Cortex-M native modules, and
# socat, which puts the virtual board behind a pseudo-terminal.
set -euo pipefail
packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi socat)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "picoml: please install: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
