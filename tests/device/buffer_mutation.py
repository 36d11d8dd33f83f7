# A model loaded from a file, then its bytes written through Model.buffer (argv: the .pml path, the backend): every
# tensor's offset set far outside the arena, as a user poking at the buffer might. The write is refused (the file is
# read into immutable bytes) and the model still predicts as before; {"refused": exception type or None, "same": ...}.
import json
import struct
import sys

import picoml

m = picoml.load(sys.argv[1], backend=sys.argv[2])
x = bytes(m.inputs[0].size)
before = bytes(m.predict(x))
h = struct.unpack_from("<4sHHIIHHHHIIIIIIIIII", m.buffer, 0)
refused = None
try:
    for i in range(h[5]):
        struct.pack_into("<I", m.buffer, h[10] + 36 * i + 4, 0x7FFFFFF0)
except Exception as e:  # noqa: BLE001
    refused = type(e).__name__
try:
    m.buffer[0] = 0
except Exception as e:  # noqa: BLE001
    refused = [refused, type(e).__name__]
print(json.dumps({"refused": refused, "same": bytes(m.predict(x)) == before, "type": type(m.buffer).__name__}))
