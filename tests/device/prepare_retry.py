# A pure-Python prepare that fails for want of memory (argv: model, a file holding the int8 input, the op code whose
# prepare raises MemoryError, how many of its calls raise): prints the op codes in the order their prepares ran and
# the output (whether it equals an undisturbed load's) or the load's MemoryError.
import json
import sys

import picoml
from picoml import prepare

code, failures = int(sys.argv[3]), int(sys.argv[4])
x = open(sys.argv[2], "rb").read()
expected = bytes(picoml.load(sys.argv[1], backend="python").predict(x))
calls = []
families = []       # kept here, so that load() finds these very modules


def recording(op, original):
    def wrapped(p, inputs, outputs, ctx):
        calls.append(op)
        if op == code and calls.count(op) <= failures:
            raise MemoryError("memory allocation failed, allocating 1024 bytes")
        return original(p, inputs, outputs, ctx)
    return wrapped


for name in set(prepare.FAMILY.values()):
    family = prepare.family(name)
    families.append(family)
    for op in family.PREPARES:
        family.PREPARES[op] = recording(op, family.PREPARES[op])
try:
    m = picoml.load(sys.argv[1], backend="python")
    result = {"same": bytes(m.predict(x)) == expected}
except MemoryError as e:
    result = {"refused": str(e)}
result["calls"] = calls
print(json.dumps(result))
