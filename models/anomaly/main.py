# Vibration anomaly detection from the board's IMU: copy anomaly.pml and this file to the board, run it.
# The model computes the anomaly score itself (an autoencoder's reconstruction error); its metadata gives the
# window, hop, sample rate, counts -> m/s^2, deg/s scale and the threshold calibrated on normal vibration.
import picoml
from picoml import boards
from picoml.clock import ticks_diff, ticks_us
from picoml.stream import Window

BOARD = "virtual"     # your board's definition in boards/
MODEL = "anomaly.pml"
CONFIRM = 2           # consecutive windows above the threshold before an anomaly is reported
WINDOWS = None        # stop after this many windows (None: run until Ctrl-C)


def main(board=BOARD, model=MODEL, windows=WINDOWS):
    m = picoml.load(model)
    info = m.metadata()["input"]
    out = m.info()["outputs"][0]
    scale, zero_point = out["scale"], out["zero_point"]
    threshold = info["threshold"]
    imu = boards.open_imu(boards.load(board), odr=info["rate"])
    w = Window(info["window"], info["channels"], info["hop"], reader=imu)
    above = 0
    alarm = False
    n = 0
    print("picoml anomaly: %s on %s, %d-frame windows every %d frames at %g Hz, threshold %.3g"
          % (model, board, info["window"], info["hop"], info["rate"], threshold))
    while windows is None or n < windows:
        if w.next() is None:
            break
        x = w.window_into(m, info["scale"])
        t0 = ticks_us()
        y = m.predict(x)
        us = ticks_diff(ticks_us(), t0)
        n += 1
        score = (y[0] - zero_point) * scale
        above = above + 1 if score > threshold else 0
        if (above >= CONFIRM) != alarm:
            alarm = not alarm
            print("%s score %.3g window %d %d us" % ("ANOMALY" if alarm else "normal", score, n, us))
    print("picoml anomaly: %d windows" % n)


if __name__ == "__main__":
    main()
