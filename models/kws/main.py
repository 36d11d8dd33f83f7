# Keyword spotting from the board's microphone: copy kws.pml and this file to the board (picoml deploy), run it.
# microphone (I2S on MicroPython, PDM on CircuitPython, mic.wav on the virtual board) -> picoml.audio.Frontend
# (one int8 row of 40 features per 20 ms, a ring of the model's 49 rows) -> the model every EVERY hops -> the
# scores averaged over SMOOTHING results -> a keyword printed once, with its confidence and latency.
# The frame count, labels and keywords come from the model's metadata.
from array import array

BOARD = "virtual"     # your board's definition in boards/ (e.g. "seeed_xiao_nrf52840_sense")
MODEL = "kws.pml"
EVERY = 3             # hops (20 ms each) between inferences, at least (more when one inference takes longer)
SMOOTHING = 3         # results averaged
THRESHOLD = 0.6       # smoothed score a keyword needs
HOLDOFF = 50          # hops after a detection with no other (a word stays in the 1 s window for up to 1 s)
BLOCK = 512           # samples per microphone read
SECONDS = None        # stop after this much audio (None: until Ctrl-C or the end of the WAV file)


class Detector:
    """Smoothed detections from the model's int8 scores, one result at a time (plain Python: the host's tests
    run the same code). update(y, hop) takes the int8 scores of the result computed at `hop` and returns the
    index of a newly detected keyword, or -1; self.confidence is the smoothed score of the leading class."""

    def __init__(self, labels, keywords, scale, zero_point, smoothing=SMOOTHING, threshold=THRESHOLD,
                 holdoff=HOLDOFF):
        self.k = len(labels)
        self.is_keyword = [label in keywords for label in labels]
        self.scale = scale
        self.zero_point = zero_point
        self.smoothing = smoothing
        self.threshold = threshold
        self.holdoff = holdoff
        self.history = [bytearray(self.k) for _ in range(smoothing)]
        self.sums = [0] * self.k
        self.n = 0
        self.last_hop = -holdoff
        self.armed = True         # a keyword is announced once; the scores must fall back before the next
        self.confidence = 0.0

    def update(self, y, hop):
        old = self.history[self.n % self.smoothing]
        sums = self.sums
        best = 0
        for c in range(self.k):
            v = y[c] + 128                   # int8 score as 0..255
            sums[c] += v - old[c]
            old[c] = v
            if sums[c] > sums[best]:
                best = c
        self.n += 1
        if self.n < self.smoothing:
            return -1
        confidence = ((sums[best] / self.smoothing - 128) - self.zero_point) * self.scale
        self.confidence = confidence
        if not self.is_keyword[best] or confidence < self.threshold:
            self.armed = True
            return -1
        if not self.armed or hop - self.last_hop < self.holdoff:
            return -1
        self.armed = False
        self.last_hop = hop
        return best


def main(board=BOARD, model=MODEL, seconds=SECONDS):
    import picoml
    from picoml import audio, boards
    from picoml.clock import ticks_diff, ticks_us
    m = picoml.load(model)
    meta = m.metadata()
    info = meta["input"]
    labels = m.labels
    out = m.info()["outputs"][0]
    detector = Detector(labels, info["keywords"], out["scale"], out["zero_point"])
    mic = audio.Microphone.from_board(boards.load(board), block=BLOCK)
    frontend = audio.Frontend(None, rows=info["frames"])
    buf = array("h", bytes(2 * BLOCK))
    hops = 0                  # feature rows since the start
    every = EVERY
    hop_us = info["hop_samples"] * 1000000 // info["rate"]
    due = every
    limit = None if seconds is None else int(seconds * info["rate"] / info["hop_samples"])
    found = 0
    print("picoml kws: %s on %s, %d x %d features, inference every %d hops of %d ms, keywords %s"
          % (model, board, info["frames"], info["features"], EVERY, info["hop_samples"] * 1000 // info["rate"],
             ", ".join(info["keywords"])))
    while limit is None or hops < limit:
        n = mic.read_into(buf)
        if n is None:
            break
        t0 = ticks_us()                         # the block is here: latency counts from now
        hops += frontend.feed(buf, 0, n)
        if hops < due:
            continue
        t1 = ticks_us()
        y = m.predict(frontend.features())
        us = ticks_diff(ticks_us(), t1)
        every = max(EVERY, us // hop_us + 1)    # a slow core infers less often, keeping up with the microphone
        due = hops + every
        c = detector.update(y, hops)
        if c >= 0:
            found += 1
            latency = ticks_diff(ticks_us(), t0)
            print("heard %s confidence %.2f at %.2f s latency %d us inference %d us"
                  % (labels[c], detector.confidence, hops * info["hop_samples"] / info["rate"], latency, us))
    print("picoml kws: %d hops, %d keywords heard, inference every %d hops" % (hops, found, every))


if __name__ == "__main__":
    main()
