# The C kernels' optimisation level per arch: code size of _picoml.mpy against speed, chosen from what
# tests/bench/bench_natmod_opt.py measured (the numbers are in the README). Read by native_module/Makefile (the
# native modules) and emulation/Makefile (the bare-metal images, which build the same kernels).
PML_OPT_x64 = -O2
PML_OPT_armv7emsp = -O2
PML_OPT_armv7m = -O2
PML_OPT_armv6m = -O2
PML_OPT_xtensawin = -O2
# ... but -Os for the files that run once per load or once per op over a few values (the checks, the binding, the
# walker, the shape and integer ops, LUT, MEAN, SOFTMAX): smaller (armv7emsp about 2.9 KB of 26.8 KB) at no cost
# measured (the audio front-end +0.1% cycles, the MLPerf Tiny models 0.0%). On armv6m mean.c and softmax.c stay at
# -O2: at -Os gcc calls libgcc's __aeabi_llsl for their 64-bit shifts, and a native module has no libgcc.
PML_SMALL_FILES = check.c modpicoml.c invoke.c concatenation.c pad.c lut.c integer.c mean.c softmax.c
PML_SMALL_FILES_armv6m = check.c modpicoml.c invoke.c concatenation.c pad.c lut.c integer.c
# PML_OPT=-O3 on make's command line builds everything at one level, for every arch (what the bench compares).
ifdef PML_OPT
PML_OPT_x64 = $(PML_OPT)
PML_OPT_armv7emsp = $(PML_OPT)
PML_OPT_armv7m = $(PML_OPT)
PML_OPT_armv6m = $(PML_OPT)
PML_OPT_xtensawin = $(PML_OPT)
PML_SMALL_FILES =
PML_SMALL_FILES_armv6m =
endif
# the files at -Os for an arch
pml_small_files = $(if $(filter armv6m,$(1)),$(PML_SMALL_FILES_armv6m),$(PML_SMALL_FILES))
