# The emulated machines: memory maps, QEMU command lines (<NAME>_QEMU: the emulator and its machine options) and the heap picoml's MicroPython port gives by default.
# The one place for these facts: emulation/Makefile and emulation/micropython/Makefile include this file, and
# picoml's Python side (picoml.emulation.machines()) reads it, so it holds only `NAME = value` lines (a value
# may use the $(NAME) of a line above) and comments. Sizes are bytes.
#
# The linker script (common/image.ld) takes each image's map through --defsym: code memory (flash, or the memory
# that plays its part) at CODE_ORIGIN, RAM at RAM_ORIGIN with the stack at its top.

# Cortex-M4F (armv7emsp, an nRF52840's core) on QEMU's mps2-an386: code in the 4 MiB SSRAM at 0, data, heap and
# stack in the 4 MiB SSRAM at 0x20000000.
MPS2_CODE_ORIGIN = 0
MPS2_CODE_SIZE = 4194304
MPS2_RAM_ORIGIN = 536870912
MPS2_RAM_SIZE = 4194304
MPS2_STACK_SIZE = 65536
MPS2_QEMU = qemu-system-arm -M mps2-an386
# the clock the port's time.ticks_cpu counts (SysTick on SYSCLK)
MPS2_CPU_HZ = 25000000
MPS2_PORT_HEAP = 200000

# Cortex-M0 (armv6m, like the RP2040's M0+) on QEMU's microbit (nRF51) with its RAM raised to 256 KiB and its
# flash to 1 MiB, an nRF52840's or RP2040's sizes.
MICROBIT_CODE_ORIGIN = 0
MICROBIT_CODE_SIZE = 1048576
MICROBIT_RAM_ORIGIN = 536870912
MICROBIT_RAM_SIZE = 262144
MICROBIT_STACK_SIZE = 16384
MICROBIT_QEMU = qemu-system-arm -M microbit -global nrf51-soc.sram-size=$(MICROBIT_RAM_SIZE) -global nrf51-soc.flash-size=$(MICROBIT_CODE_SIZE)
MICROBIT_PORT_HEAP = 180000
# (SysTick on the nRF51's HCLK)
MICROBIT_CPU_HZ = 16000000

# Cortex-M0+ (armv6m) on rp2040js: the whole image in the 264 KB SRAM at 0x20000000 (code and RAM are the same
# memory); rp2040js/run_rp2040.mjs puts the model and the inputs in the flash at 0x10000000.
RP2040_CODE_ORIGIN = 536870912
RP2040_CODE_SIZE = 270336
RP2040_RAM_ORIGIN = 536870912
RP2040_RAM_SIZE = 270336
RP2040_STACK_SIZE = 8192

# Xtensa dc233c (windowed registers, as the ESP32's LX6 has; not an ESP32) on QEMU's sim machine, 128 MiB of RAM at
# 0, with its own linker script (xtensa/image.ld): code, data, heap and stack in the RAM from RAM_ORIGIN (start.S
# keeps its register save area below it), the static region (the images' "flash") at STATIC_ORIGIN.
XTENSA_SIM_RAM_ORIGIN = 4096
XTENSA_SIM_RAM_SIZE = 17821696
XTENSA_SIM_STACK_SIZE = 1048576
XTENSA_SIM_STATIC_ORIGIN = 33554432
XTENSA_SIM_STATIC_SIZE = 33554432
XTENSA_SIM_QEMU = qemu-system-xtensa -M sim -cpu dc233c
XTENSA_SIM_PORT_HEAP = 200000
# CCOUNT's rate in QEMU's virtual clock (measured: tests/test_esp32.py)
XTENSA_SIM_CPU_HZ = 10000000
