# With fakes/kernels_viper.py in the package (argv: model, a file holding the int8 input): the viper backend takes
# the ops that module has (SOFTMAX) and kernels_python the rest.
import json
import sys
from binascii import hexlify

import picoml
from picoml import kernels_viper

m = picoml.load(sys.argv[1])
y = m.predict(open(sys.argv[2], "rb").read())
info = m.info()
print(json.dumps({"backend": m.backend, "viper_calls": kernels_viper.calls[0], "early": kernels_viper.early[0],
                  "python_ops": info["python_ops"],
                  "output": hexlify(bytes(y)).decode(), "notes": info["backend_notes"],
                  "forced": picoml.load(sys.argv[1], backend="viper").backend}))
