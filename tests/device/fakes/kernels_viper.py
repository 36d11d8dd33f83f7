# A stand-in kernels_viper with SOFTMAX only (kernels_python's), counting its calls.
from picoml import prepare, kernels_python
from picoml._ops import OP_SOFTMAX

calls = [0]


def run_softmax(state):
    calls[0] += 1
    kernels_python.run_softmax(state)


def kernel(code):
    return (prepare.prepare_softmax, run_softmax) if code == OP_SOFTMAX else None
