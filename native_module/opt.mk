# The C kernels' optimisation level per arch: code size of _picoml.mpy against speed, chosen from what
# tests/bench/bench_natmod_opt.py measured (the numbers are in the README). Read by native_module/Makefile (the
# native modules) and emulation/Makefile (the bare-metal images, which build the same kernels). PML_OPT=-O3 on
# make's command line tries one level for every arch.
PML_OPT_x64 = -O2
PML_OPT_armv7emsp = -O2
PML_OPT_armv7m = -O2
PML_OPT_armv6m = -O2
PML_OPT_xtensawin = -O2
ifdef PML_OPT
PML_OPT_x64 = $(PML_OPT)
PML_OPT_armv7emsp = $(PML_OPT)
PML_OPT_armv7m = $(PML_OPT)
PML_OPT_armv6m = $(PML_OPT)
PML_OPT_xtensawin = $(PML_OPT)
endif
