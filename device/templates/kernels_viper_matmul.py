# picoml.kernels_viper_matmul: BATCH_MATMUL in viper code, imported by picoml.kernels_viper.kernel() for a model with
# one (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython
from array import array

from .kernels_viper import _EXT, _byte_table, _fallback, _in_int32, _kp, _out_range, _pair, _records, _run, _runs


# ---------------------------------------------------------------------------------------------------------
# BATCH_MATMUL: per output matrix (its lhs and rhs offsets in mats), per row and column the sum over k of
# ta[lhs byte] * tb[rhs byte] (the bytes plus their offsets, _byte_table), requantized. g = (matrices, out_off,
# rows, cols, depth, lhs row step, lhs k step, rhs column step, rhs k step, output_offset, lo, hi, act_min,
# act_max)
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _matmul_core(S):
    acc = 0
    i = 0
    j = 0
    xa = ptr8(S[0])
    xb = ptr8(S[1])
    o = ptr8(S[2])
    g = S[3]
    ta = ptr32(S[4])
    tb = ptr32(S[5])
    q = ptr16(S[6])
    mats = ptr32(S[7])
    n_mats = int(g[0])
    out = int(g[1])
    rows = int(g[2])
    cols = int(g[3])
    depth = int(g[4])
    ar = int(g[5])
    ak = int(g[6])
    bc = int(g[7])
    bk = int(g[8])
    ooff = int(g[9])
    lo = int(g[10])
    hi = int(g[11])
    amin = int(g[12])
    amax = int(g[13])
    ext = int(_EXT)
    r = int(q)
    for t in range(n_mats):
        ia = mats[2 * t]
        ib = mats[2 * t + 1]
        for mm in range(rows):
            for nn in range(cols):
                acc = 0
                i = ia + mm * ar
                j = ib + nn * bc
                for k in range(depth):
                    acc += ta[xa[i]] * tb[xb[j]]
                    i += ak
                    j += bk
                #: requantize
                #: clamp
                out += 1


def prepare_batch_matmul(p, inputs, outputs, ctx):
    st = _kp("layout").prepare_batch_matmul(p, inputs, outputs, ctx)
    ab, bb, ob, oo, mats, rows, cols, depth, ar, ak, bc, bk, l_off, r_off, mo, so, ooff, amin, amax = st
    lo, hi = _out_range(ooff, amin, amax)
    ta = ctx.shared(("v", l_off), lambda: _byte_table(l_off))
    tb = ctx.shared(("v", r_off), lambda: _byte_table(r_off))
    q = _pair(mo, so)
    if q is None or ta is None or tb is None or not _in_int32(lo, hi):
        return _fallback(_runs().run_batch_matmul, st)
    offsets = array("i", range(2 * len(mats)))
    for t in range(len(mats)):
        offsets[2 * t], offsets[2 * t + 1] = mats[t]
    g = (len(mats), oo, rows, cols, depth, ar, ak, bc, bk, ooff, lo, hi, amin, amax)
    return (_matmul_core, (ab, bb, ob, g, ta, tb, _records(q), offsets))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_BATCH_MATMUL: (prepare_batch_matmul, _run),
}
del _ops
