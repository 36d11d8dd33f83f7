# Models on the viper backend (argv: a folder holding cases.json, [[name, input sizes, input sets], ...], and
# per case NAME.pml and NAME.in, the input sets one after the other): writes NAME.out, and prints
# {"kernels_viper": the files of the viper modules loaded, "cases": {name: [backend, ops per input set whose viper prepare fell back to
# kernels_python's run, the ops left to kernels_python, the times a viper prepare fetched kernels_python while the
# model loaded]}}.
import json
import sys

import picoml
from picoml import kernels_viper

folder = sys.argv[1]
fallen_back = [0]
python_run = kernels_viper._python


def counting(state):
    fallen_back[0] += 1
    python_run(state)


kernels_viper._python = counting
fetched = [0]
python_runs = kernels_viper._runs


def fetching():
    fetched[0] += 1
    return python_runs()


kernels_viper._runs = fetching      # (before any family module imports it)
families = []
family_of = kernels_viper._kp


def importing(family=None):
    if family is not None and family not in families:
        families.append(family)
    return family_of(family)


kernels_viper._kp = importing
result = {}
for name, sizes, count in json.loads(open(folder + "/cases.json").read()):
    fetched[0] = 0
    families.clear()
    m = picoml.load(folder + "/" + name + ".pml", backend="viper")
    fallen_back[0] = 0
    bufs = [bytearray(n) for n in sizes]
    src = open(folder + "/" + name + ".in", "rb")
    dst = open(folder + "/" + name + ".out", "wb")
    for i in range(count):
        for b in bufs:
            src.readinto(b)
        y = m.predict(bufs[0] if len(bufs) == 1 else bufs)
        for o in (y if isinstance(y, list) else [y]):
            dst.write(o)
    src.close()
    dst.close()
    result[name] = [m.backend, fallen_back[0] // count, m.info()["python_ops"], fetched[0], sorted(families)]
files = sorted(module.__file__ for name, module in sys.modules.items() if name.startswith("picoml.kernels_viper"))
print(json.dumps({"kernels_viper": files, "cases": result}))
