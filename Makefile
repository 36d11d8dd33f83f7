# Two entry points for a fresh machine (see README): `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PICOML := $(VENV)/bin/picoml
DEMO_MODEL ?= ../shared/conformance/mlperf_tiny/kws_ref_model.tflite
BUILD := build

.PHONY: setup demo test clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	mkdir -p $(BUILD)
	$(PY) -c "import numpy as np; np.save('$(BUILD)/demo_input.npy', np.random.default_rng(0).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8))"
	$(PICOML) convert $(DEMO_MODEL) -o $(BUILD)/demo.pml
	$(PICOML) inspect $(BUILD)/demo.pml
	$(PICOML) run $(BUILD)/demo.pml --input $(BUILD)/demo_input.npy --output $(BUILD)/demo_output.npy --runtime reference
	$(PY) -c "import numpy as np; print('output', np.load('$(BUILD)/demo_output.npy'))"

test: setup
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(BUILD) .pytest_cache
