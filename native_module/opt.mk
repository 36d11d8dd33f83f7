# The C kernels' optimisation level per arch: code size of _picoml.mpy against speed, chosen from what
# tests/bench/bench_natmod_opt.py measured (the numbers are in the README). Read by native_module/Makefile (the
# native modules) and emulation/Makefile (the bare-metal images, which build the same kernels).
PML_OPT_x64 = -O2
PML_OPT_armv7emsp = -O2
PML_OPT_armv7m = -O2
PML_OPT_armv6m = -O2
PML_OPT_xtensawin = -O2
# ... but -Os for the files that run once per load or once per op over a few values (the checks, the scratch
# placement, the binding, the walker, the shape and integer ops, LUT, MEAN, SOFTMAX): smaller (armv7emsp about
# 2.9 KB of 26.8 KB) at no cost measured (the audio front-end +0.1% cycles, the MLPerf Tiny models 0.0%). On
# armv6m mean.c and softmax.c stay at -O2: at -Os gcc calls libgcc's __aeabi_llsl for their 64-bit shifts, and a
# native module has no libgcc.
PML_SMALL_FILES = check.c scratch.c modpicoml.c invoke.c concatenation.c pad.c lut.c integer.c mean.c softmax.c
PML_SMALL_FILES_armv6m = check.c scratch.c modpicoml.c invoke.c concatenation.c pad.c lut.c integer.c
# On the two arches of the boards (the module's code goes to their heap, docs/memory.md), -Os too for the portable
# kernels that only stand in for the core-specific ones there (fully_connected.c: only the check; on armv6m also
# depthwise_conv.c, the cases depthwise_conv_s8_armv6m.c leaves) and on armv7emsp for ADD, SUB and MUL (element-wise,
# once per op over an activation; on armv6m at -Os they call __aeabi_llsl); DS-CNN's instructions unchanged on
# qemu-m4 (it runs none of them), ResNet-8's +1.1% there (its ADDs). On armv7emsp depthwise_conv.c too, now that
# depthwise_conv_s8_simd32.c runs the depth multipliers above 1 (in _picoml; the library loads that module for
# them): 596 bytes less, the same instructions on every conformance and example model on qemu-m4. And conv.c,
# which on armv7emsp only runs the convolutions conv_s8_simd32.c leaves (2-pixel columns over 2,880 bytes: a patch
# over 3x3x64), and add_s8_simd32.c (element-wise): 632 bytes less for conv.c, the same instructions on the five
# conformance and three example models on bare-m4 (ResNet-8's ADDs 240 k more than at -O2, for 70 bytes less).
# And pooling.c (a pass over an activation per op): 512 bytes less for heap margin under the 32 KB, instructions on
# bare-m4 +0.11% for DS-CNN, +1.1% for the gesture model (its max pools), at most +0.3% for the others.
# BATCH_MATMUL, RESIZE_BILINEAR, ARG_MAX, L2_NORMALIZATION, LOG_SOFTMAX and DIV (rare on these boards: attention,
# bilinear upsampling, an arg max in the model, embeddings, a log softmax, softsign) are -Os everywhere.
PML_SMALL_FILES_BOARDS = fully_connected.c add.c mul.c sub.c batch_matmul.c resize_bilinear.c arg_max.c \
	l2_normalization.c log_softmax.c div.c
PML_SMALL_FILES += batch_matmul.c resize_bilinear.c arg_max.c l2_normalization.c log_softmax.c div.c
PML_SMALL_FILES_armv7emsp = $(PML_SMALL_FILES) $(PML_SMALL_FILES_BOARDS) depthwise_conv.c add_s8_simd32.c conv.c pooling.c
PML_SMALL_FILES_armv6m += depthwise_conv.c fully_connected.c batch_matmul.c resize_bilinear.c arg_max.c l2_normalization.c \
	log_softmax.c div.c    # add.c, mul.c, sub.c at -Os call __aeabi_llsl
# PML_OPT=-O3 on make's command line builds everything at one level, for every arch (what the bench compares).
ifdef PML_OPT
PML_OPT_x64 = $(PML_OPT)
PML_OPT_armv7emsp = $(PML_OPT)
PML_OPT_armv7m = $(PML_OPT)
PML_OPT_armv6m = $(PML_OPT)
PML_OPT_xtensawin = $(PML_OPT)
PML_SMALL_FILES =
PML_SMALL_FILES_armv6m =
PML_SMALL_FILES_armv7emsp =
endif
# the files at -Os for an arch
pml_small_files = $(if $(filter armv6m armv7emsp,$(1)),$(PML_SMALL_FILES_$(1)),$(PML_SMALL_FILES))
