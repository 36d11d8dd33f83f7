# picoml.kernels_viper_lstm: LSTM in viper code, imported by picoml.kernels_viper.kernel() for a model with one of
# them (the word-size rules, the kernel interface and the lines written once for every kernel:
# device/templates/kernels_viper.py).
import micropython

from .kernels_viper import _EXT, _fallback, _in_int32, _ints, _pair, _records, _run


# ---------------------------------------------------------------------------------------------------------
# LSTM: as native_module/lstm.c and kernels_audio.run_lstm, unit by unit. Per unit the eight FC sums (four
# gates' input and recurrent ones) go to acc8 and are requantized in one loop; the gates' sigmoid / tanh
# (TFLite's int16 functions interpolating tab, TFLite's sigmoid table as int32) in another; then
# the three products of the cell and hidden update are requantized in a third (records 8, 9, 10 of q). The new
# hidden state (int16, less its zero point) goes to the state after the step's last unit.
# g = (x_off, out_off, batches, steps, features, units, time_major, w_off, r_off, h_off, c_off, hidden zero
# point, tanh multiplier, tanh shift, cell clip); S = (x buf, weights buf, out buf, arena (h, c), g, bias, q,
# tab, acc8 (int32 scratch: 8 sums, then the 8 requantized values, then the 4 gates))
# ---------------------------------------------------------------------------------------------------------

@micropython.viper
def _lstm_core(S):
    acc = 0
    k = 0
    x = ptr8(S[0])
    w = ptr8(S[1])
    o = ptr8(S[2])
    hc = ptr16(S[3])
    g = S[4]
    bias = ptr32(S[5])
    q = ptr16(S[6])
    tab = ptr32(S[7])
    a8 = ptr32(S[8])
    xo = int(g[0])
    oo = int(g[1])
    B = int(g[2])
    T = int(g[3])
    I = int(g[4])
    U = int(g[5])
    tm = int(g[6])
    wo = int(g[7])
    ro = int(g[8])
    ho = int(g[9]) >> 1
    co = int(g[10]) >> 1
    zp = int(g[11])
    tmul = int(g[12])
    tsh = int(g[13])
    clip = int(g[14])
    ext = int(_EXT)
    tround = 0
    if tsh > 0:
        tround = 1 << (tsh - 1)
    for b in range(B):
        hb = ho + b * U
        cb = co + b * U
        for t in range(T):
            at = b * T + t
            if tm:
                at = t * B + b
            xs = xo + at * I
            oi = oo + at * U
            for u in range(U):
                # the eight sums: gate j's input FC in a8[j], its recurrent FC in a8[4 + j]
                for j in range(4):
                    row = j * U + u
                    acc = int(bias[row])
                    k = wo + row * I
                    for i in range(I):
                        acc += ((x[xs + i] ^ 0x80) - 0x80) * ((w[k + i] ^ 0x80) - 0x80)
                    a8[j] = acc
                    acc = 0
                    k = ro + row * U
                    for i in range(U):
                        acc += ((hc[hb + i] ^ 0x8000) - 0x8000) * ((w[k + i] ^ 0x80) - 0x80)
                    a8[4 + j] = acc
                r = int(q)              # records of 4 halfwords (kernels_viper._RECORD)
                for j in range(8):
                    acc = int(a8[j])
                    #: requantize
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    a8[8 + j] = v
                    r += 8
                # the gates: sigmoid of the saturated sum (the cell gate's, index 2: tanh)
                for j in range(4):
                    v = ((int(a8[8 + j]) << ext) >> ext) + ((int(a8[12 + j]) << ext) >> ext)
                    if v < -32768:
                        v = -32768
                    elif v > 32767:
                        v = 32767
                    v = v * 3
                    a = v
                    if a < 0:
                        a = 0 - a
                    if j == 2:
                        e = a >> 8
                        if e >= 255:
                            e = 0xFFFF << 8
                        else:
                            lo = int(tab[e])
                            e = (lo << 8) + (a & 0xFF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e - 8388480) >> 8
                        else:
                            v = (8388735 - e) >> 8
                    else:
                        e = a >> 9
                        if e >= 255:
                            e = 0x7FFF << 10
                        else:
                            lo = int(tab[e])
                            e = (lo << 9) + (a & 0x1FF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e + 512) >> 10
                        else:
                            v = (33554432 - e + 511) >> 10
                    a8[16 + j] = ((v & 0xFFFF) ^ 0x8000) - 0x8000
                # the cell (records 8, 9) and the hidden state (record 10)
                cell = 0
                r = int(q) + 64
                for j in range(3):
                    if j == 0:
                        acc = ((int(a8[17]) << ext) >> ext) * ((hc[cb + u] ^ 0x8000) - 0x8000)
                    elif j == 1:
                        acc = ((int(a8[16]) << ext) >> ext) * ((int(a8[18]) << ext) >> ext)
                    else:
                        v = (cell * tmul + tround) >> tsh
                        a = v
                        if a < 0:
                            a = 0 - a
                        e = a >> 8
                        if e >= 255:
                            e = 0xFFFF << 8
                        else:
                            lo = int(tab[e])
                            e = (lo << 8) + (a & 0xFF) * (int(tab[e + 1]) - lo)
                        if v >= 0:
                            v = (e - 8388480) >> 8
                        else:
                            v = (8388735 - e) >> 8
                        acc = (((v & 0xFFFF) ^ 0x8000) - 0x8000) * ((int(a8[19]) << ext) >> ext)
                    #: requantize
                    if j == 2:
                        v += zp
                        if v < -128:
                            v = -128
                        elif v > 127:
                            v = 127
                        o[oi + u] = v
                    else:
                        if v < -32768:
                            v = -32768
                        elif v > 32767:
                            v = 32767
                        cell += v
                        if j == 1:
                            if cell < -32768:
                                cell = -32768
                            elif cell > 32767:
                                cell = 32767
                            if clip > 0:
                                if cell > clip:
                                    cell = clip
                                elif cell < 0 - clip:
                                    cell = 0 - clip
                            hc[cb + u] = cell
                    r += 8
            for u in range(U):
                hc[hb + u] = ((o[oi + u] ^ 0x80) - 0x80) - zp


def prepare_lstm(p, inputs, outputs, ctx):
    from .kernels_audio import prepare_lstm as prepare, run_lstm
    st = prepare(p, inputs, outputs, ctx)
    x, out, mults, shifts = inputs[0], outputs[0], inputs[4].ints(), inputs[5].ints()
    pairs = [(mults[i], shifts[i]) for i in range(8)] + [(p[2], p[3]), (p[4], p[5]), (p[6], p[7])]
    records = [_pair(m, s) for m, s in pairs]
    if not _in_int32(p[1], p[8], p[9], p[10]) or None in records:
        return _fallback(run_lstm, st)
    q = _records([v for record in records for v in record])
    tab = _ints([v + 32768 for v in st[16]])
    g = _ints((st[1], st[3], st[4], st[5], st[6], st[7], st[8], st[10], st[12], st[18], st[20], p[1], p[8], p[9],
               p[10]))
    return (_lstm_core, (st[0], st[9], st[2], st[17], g, st[13], q, tab, _ints(range(20))))


# (the op codes are read from picoml._ops, which is not kept: it is dropped after loading)
from . import _ops  # noqa: E402

KERNELS = {
    _ops.OP_LSTM: (prepare_lstm, _run),
}
del _ops
