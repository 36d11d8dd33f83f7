"""The op families: each module holds, for its ops, the lowering from TFLite (LOWER, keyed by TFLite op name) and
the numpy reference kernel (REFERENCE, keyed by .pml op name)."""
from . import conv, elementwise, fully_connected, lut, mean, nonlinear, pooling, shape

LOWER = {}
REFERENCE = {}
for _family in (conv, fully_connected, pooling, elementwise, shape, nonlinear, mean, lut):
    LOWER.update(_family.LOWER)
    REFERENCE.update(_family.REFERENCE)
