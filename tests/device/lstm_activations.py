# The pure-Python backend's int16 sigmoid and tanh (picoml.kernels_audio, the LSTM's) on every int16 value, as
# hex of the int16 results: test_lstm.py holds them to the reference's.
import json
import sys
from array import array

from picoml import kernels_audio as k

with open(sys.argv[1], "rb") as f:
    TABLE = array("h", f.read())
MULTIPLIER, SHIFT = int(sys.argv[2]), int(sys.argv[3])
sigmoid = array("h", bytes(2 * 65536))
tanh = array("h", bytes(2 * 65536))
for i in range(65536):
    sigmoid[i] = k._sigmoid16(i - 32768, TABLE)
    tanh[i] = k._tanh16(i - 32768, TABLE, MULTIPLIER, SHIFT)
print(json.dumps({"sigmoid": bytes(sigmoid).hex(), "tanh": bytes(tanh).hex()}))
