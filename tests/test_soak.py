"""The streaming soak, short (tests/bench/bench_soak.py runs it for 10^6 windows): run() with the gesture model on
windows the IMU driver reads from the virtual board's emulated IMU, faster than real time (see tests/soak.py).
Once in discrete-event time (the loop always keeps up) -- nothing lost, the live heap flat -- and once in
discrete-event time where every bus transaction costs 0.3 s, a loop too slow for the IMU on any machine -- FIFO
overruns, every lost frame reported by the driver."""

import soak


def test_soak_keeping_up_loses_nothing_and_the_heap_stays_flat():
    r = soak.soak(3000, chunk=250, timeout=600)           # discrete-event time: 750 s of motion in seconds
    assert r["windows"] == r["results"] == 3000 and r["backend"] == "native"
    assert r["emulated_seconds"] > 10 * r["seconds"]      # faster than real time
    assert r["overruns"] == r["jumps"] == r["lost_frames"] == r["window_dropped"] == 0
    assert r["frames"] >= 104 + 26 * 2999
    heap = r["heap"][2:]                                  # after run()'s first setup
    assert max(heap) - min(heap) <= 256, r["heap"]        # nothing grows per window


def test_soak_too_fast_for_the_loop_reports_every_loss():
    r = soak.soak(800, chunk=100, lag_us=300000, timeout=600)  # the chip's FIFO overflows again and again
    assert r["windows"] == r["results"] == 800
    assert r["overruns"] > 0 and r["jumps"] > 0 and r["lost_frames"] > 0
    assert r["unreported_jumps"] == 0 and r["window_dropped"] == 0
    assert r["jumps"] <= 2 * r["overruns"]                # an overflow in a burst, then the FIFO's restart
