"""The op families: each module holds, for its ops, the lowering from TFLite (LOWER, keyed by TFLite op name) and
the numpy reference kernel (REFERENCE, keyed by .pml op name)."""
from . import (conv, elementwise, float_island, fully_connected, integer, lut, mean, nonlinear, pooling, recurrent,
               resize, select, shape, signal)

LOWER = {}
REFERENCE = {}
for _family in (conv, fully_connected, pooling, elementwise, shape, nonlinear, mean, lut, integer, signal, resize,
                recurrent, select):
    LOWER.update(_family.LOWER)
    REFERENCE.update(_family.REFERENCE)
# TFLite ops whose lowering takes tensors of any integer dtype, quantized or not (it checks them itself); the
# others take int8 quantized tensors only
INTEGER_OPS = integer.INTEGER_OPS | signal.INTEGER_OPS | pooling.INTEGER_OPS | recurrent.INTEGER_OPS
SELF_CHECKED_OPS = select.SELF_CHECKED_OPS   # ... and those that check every operand's dtype, bool ones too
STATE_INPUTS = recurrent.STATE_INPUTS   # by TFLite op: the positions of the variable tensors it reads as state
INT32_OPS = integer.INT32_OPS       # ... and those that are integer ops unless their output is int8
N_OUTPUTS = dict(signal.N_OUTPUTS, **shape.N_OUTPUTS)     # TFLite ops with more than one output (None: any)
# frame-batched reference kernels (reference.run_frames), by .pml op name: the ops a stream of frames runs once per
# stream rather than once per frame
BATCHED = dict(signal.BATCHED, **integer.BATCHED)
