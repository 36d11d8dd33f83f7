# The backend picoml.load chooses for a model (argv: model), and what a forced native backend says:
# {"auto": [backend, backend notes], "forced": the ImportError's message or null}.
import json
import sys

import picoml

m = picoml.load(sys.argv[1])
try:
    picoml.load(sys.argv[1], backend="native")
    forced = None
except ImportError as e:
    forced = str(e)
print(json.dumps({"auto": [m.backend, m.info()["backend_notes"]], "forced": forced}))
