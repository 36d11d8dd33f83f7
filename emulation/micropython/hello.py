# make -C emulation/micropython TARGET=m4 run   (or TARGET=m0, xtensa): a smoke test of the port
import sys, gc, time
print("MicroPython", sys.version, "on", sys.implementation._machine)
print("native .mpy arch:", ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
                            "armv7emdp", "xtensa", "xtensawin")[(sys.implementation._mpy >> 10) & 15])
print("heap:", gc.mem_free() + gc.mem_alloc(), "bytes; ticks_us:", time.ticks_us())
