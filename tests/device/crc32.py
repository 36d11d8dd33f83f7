# The library's pure-Python CRC-32 against binascii's, over a model file after its first 16 bytes and over b"".
import binascii
import json
import sys

from picoml import pml

data = memoryview(open(sys.argv[1], "rb").read())[16:]
print(json.dumps([pml._crc32_py(data), binascii.crc32(data), pml._crc32_py(b"")]))
