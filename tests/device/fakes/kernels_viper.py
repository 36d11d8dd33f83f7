# A stand-in kernels_viper with SOFTMAX only (kernels_python's), counting its calls, and the kernel() lookups made
# before the loader has read the file (it imports picoml.prepare then): the ones that import the families early.
import sys

from picoml._ops import OP_SOFTMAX

calls = [0]
early = [0]


def prepare_softmax(p, inputs, outputs, ctx):
    from picoml import prepare
    return prepare.family("softmax").prepare_softmax(p, inputs, outputs, ctx)


def run_softmax(state):
    from picoml import kernels_python
    calls[0] += 1
    kernels_python.run_softmax(state)


def kernel(code):
    if "picoml.prepare" not in sys.modules:
        early[0] += 1
    return (prepare_softmax, run_softmax) if code == OP_SOFTMAX else None
