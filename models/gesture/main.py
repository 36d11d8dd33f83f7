# Gesture recognition from the board's IMU: copy gesture.pml and this file to the board (picoml deploy), run it.
# Window length, hop, channels, sample rate and the counts -> m/s^2, deg/s scale come from the model's metadata.
import picoml
from picoml import boards
from picoml.clock import ticks_diff, ticks_us
from picoml.stream import Window

BOARD = "virtual"     # your board's definition in boards/ (e.g. "seeed_xiao_nrf52840_sense")
MODEL = "gesture.pml"
REST = "idle"         # the class that is never announced
SMOOTHING = 2         # results averaged
THRESHOLD = 0.6       # smoothed score a gesture needs
CONFIRM = 3           # results in a row a gesture must lead before it is announced (moving between gestures
                      # can look like a gesture for a moment)
WINDOWS = None        # stop after this many windows (None: run until Ctrl-C)


def main(board=BOARD, model=MODEL, windows=WINDOWS):
    m = picoml.load(model)
    info = m.metadata()["input"]
    labels = m.labels
    out = m.info()["outputs"][0]
    scale, zero_point = out["scale"], out["zero_point"]
    rest = labels.index(REST) if REST in labels else -1
    imu = boards.open_imu(boards.load(board), odr=info["rate"])
    w = Window(info["window"], info["channels"], info["hop"], reader=imu)
    k = len(labels)
    history = [bytearray(k) for _ in range(SMOOTHING)]
    sums = [0] * k
    shown = rest              # the class announced last: a gesture is announced once per performance
    leader = rest             # the class leading the smoothed scores, and for how many results in a row
    lead = 0
    n = 0
    print("picoml gesture: %s on %s, %d-frame windows every %d frames at %g Hz, classes %s"
          % (model, board, info["window"], info["hop"], info["rate"], ", ".join(labels)))
    while windows is None or n < windows:
        if w.next() is None:
            break
        x = w.window_into(m, info["scale"])
        t0 = ticks_us()
        y = m.predict(x)
        us = ticks_diff(ticks_us(), t0)
        old = history[n % SMOOTHING]
        best = 0
        for c in range(k):
            v = y[c] + 128                   # int8 score as 0..255
            sums[c] += v - old[c]
            old[c] = v
            if sums[c] > sums[best]:
                best = c
        n += 1
        confidence = ((sums[best] / SMOOTHING - 128) - zero_point) * scale
        lead = lead + 1 if best == leader else 1
        leader = best
        if best != shown and (best == rest or (confidence >= THRESHOLD and lead >= CONFIRM)):
            shown = best
            if best != rest:
                print("gesture %s confidence %.2f window %d %d us" % (labels[best], confidence, n, us))
    print("picoml gesture: %d windows" % n)


if __name__ == "__main__":
    main()
