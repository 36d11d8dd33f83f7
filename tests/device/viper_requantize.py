# kernels_viper_pool._requant_array over N (accumulator, requantization record) pairs (argv: folder, N): reads
# acc.bin (int32 each) and q.bin (kernels_viper._RECORD uint16 each), writes out.bin (int32 each).
import sys

from picoml import kernels_viper, kernels_viper_pool

folder = sys.argv[1]
n = int(sys.argv[2])
a = bytearray(4 * n)
q = bytearray(2 * kernels_viper._RECORD * n)
o = bytearray(4 * n)
open(folder + "/acc.bin", "rb").readinto(a)
open(folder + "/q.bin", "rb").readinto(q)
kernels_viper_pool._requant_array(a, o, ((0, 0, 0, 0, 0, 0, 2 * kernels_viper._RECORD, 1), q), n)
open(folder + "/out.bin", "wb").write(o)
print("{}")
