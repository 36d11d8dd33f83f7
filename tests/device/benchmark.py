# µs per inference from Model.benchmark (argv: model, then backend:count pairs): {backend: µs}.
import json
import sys

import picoml

result = {}
for spec in sys.argv[2:]:
    backend, count = spec.split(":")
    result[backend] = picoml.load(sys.argv[1], backend=backend).benchmark(int(count))
print(json.dumps(result))
