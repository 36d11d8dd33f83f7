"""Synthetic machine vibration: what an accelerometer bolted to a rotating machine's housing measures, normal and
with four classic faults. docs/motion.md has the model and its limits.

A machine turns at a shaft speed f_r (a few operating speeds, with slow speed wander). The housing vibrates with
- normal operation: a small 1x component (residual unbalance, radial: x and y in quadrature), smaller 2x and
  3x, a blade-pass / gear-mesh tone at z_teeth * f_r, broadband noise (flow, the sensor), gravity on one axis;
- imbalance: a 1x radial component many times the residual one, x and y in quadrature (a rotating force);
- misalignment: strong 2x (and raised 1x), with a large axial (z) part;
- bearing defect (outer race): an impact every 1 / BPFO (BPFO = n_balls / 2 * (1 - d/D cos a) * f_r, about
  3.6 f_r), each ringing a housing resonance that decays within a few ms, the impact times jittered (slip);
- mechanical looseness: a truncated (rectified) 1x response: many harmonics of f_r and 0.5x sub-harmonics.
Each machine (the "person" of a gesture dataset) has its own amplitudes, resonance, speeds and sensor mounting.
The gyroscope sees the housing rock: a small 1x (and, with looseness, rattling) angular vibration plus noise.
Units: [n, 6], m/s^2 (x, y radial; z axial, before the mounting rotation) then deg/s, as the IMU gives them.
"""
import math
from dataclasses import dataclass

import numpy as np

from .motion import G, _euler

CONDITIONS = ("normal", "imbalance", "misalignment", "bearing", "looseness")
FAULTS = CONDITIONS[1:]
SPEEDS_HZ = (20.0, 25.0, 30.0)        # 1200, 1500, 1800 rpm


@dataclass
class Machine:
    residual: float = 0.15            # m/s^2 of 1x in normal operation
    teeth: int = 7
    mesh: float = 0.08
    resonance_hz: float = 560.0
    damping: float = 0.04
    noise: float = 0.05
    mount: tuple = (0.0, 0.0, 0.0)
    severity: float = 1.0             # scales every fault amplitude
    seed: int = 0
    name: str = ""

    @classmethod
    def random(cls, rng, name=""):
        return cls(residual=float(rng.uniform(0.08, 0.25)), teeth=int(rng.integers(5, 12)),
                   mesh=float(rng.uniform(0.03, 0.15)), resonance_hz=float(rng.uniform(420, 720)),
                   damping=float(rng.uniform(0.02, 0.08)), noise=float(rng.uniform(0.03, 0.08)),
                   mount=tuple(float(a) for a in rng.uniform(-0.3, 0.3, 3)),
                   severity=float(rng.uniform(0.7, 1.4)), seed=int(rng.integers(2 ** 31)), name=name)


def machines(n, seed=0, prefix="m"):
    rng = np.random.default_rng(seed)
    return [Machine.random(rng, "%s%02d" % (prefix, i)) for i in range(n)]


def _harmonic(phase, k, amplitude, shift=0.0):
    return amplitude * np.sin(k * phase + shift)


def vibrate(condition, seconds, rate, machine=None, speed_hz=25.0, start=0.0):
    """[n, 6] IMU samples (m/s^2 with gravity, deg/s) of `machine` in `condition` at `rate` Hz."""
    if condition not in CONDITIONS:
        raise ValueError("unknown condition %r: choose from %s" % (condition, ", ".join(CONDITIONS)))
    machine = machine or Machine()
    rng = np.random.default_rng([machine.seed, CONDITIONS.index(condition), int(speed_hz * 10), int(start * 1e3)])
    n = int(round(seconds * rate))
    t = start + np.arange(n) / rate
    wander = 1 + 0.01 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))
    phase = 2 * np.pi * speed_hz * np.cumsum(wander) / rate + rng.uniform(0, 6.3)
    s = machine.severity
    a = np.zeros((n, 3))
    r = machine.residual
    a[:, 0] += _harmonic(phase, 1, r) + _harmonic(phase, 2, 0.3 * r, 0.7) + _harmonic(phase, 3, 0.15 * r, 1.9)
    a[:, 1] += _harmonic(phase, 1, r, np.pi / 2) + _harmonic(phase, 2, 0.3 * r, 2.2)
    a[:, 2] += _harmonic(phase, 1, 0.2 * r, 0.4)
    a[:, :] += _harmonic(phase, machine.teeth, machine.mesh)[:, None] * np.array([0.6, 0.4, 1.0])
    if condition == "imbalance":
        amp = 1.2 * s * (speed_hz / 25.0) ** 2           # force grows with the square of the speed
        a[:, 0] += _harmonic(phase, 1, amp)
        a[:, 1] += _harmonic(phase, 1, amp, np.pi / 2)
    elif condition == "misalignment":
        a[:, 0] += _harmonic(phase, 2, 0.8 * s) + _harmonic(phase, 1, 0.4 * s)
        a[:, 1] += _harmonic(phase, 2, 0.6 * s, 1.0)
        a[:, 2] += _harmonic(phase, 2, 1.2 * s, 0.5) + _harmonic(phase, 1, 0.6 * s)
    elif condition == "bearing":
        bpfo = 3.58 * speed_hz
        impacts = np.arange(t[0] - 0.05, t[-1] + 1 / bpfo, 1 / bpfo)
        impacts = impacts + rng.normal(0, 0.01 / bpfo, len(impacts))      # slip
        ring = np.zeros(n)
        w = 2 * np.pi * machine.resonance_hz
        decay = machine.damping * w
        for t0 in impacts:
            i0 = max(0, int(math.ceil((t0 - t[0]) * rate)))
            i1 = min(n, i0 + int(8 / decay * rate) + 1)
            if i0 >= n or i1 <= i0:
                continue
            dt = t[i0:i1] - t0
            ring[i0:i1] += np.exp(-decay * dt) * np.sin(w * dt)
        ring *= 2.0 * s * rng.uniform(0.8, 1.2)
        a += ring[:, None] * np.array([1.0, 0.7, 0.4])
    elif condition == "looseness":
        response = 1.5 * s * np.sin(phase)
        rectified = np.maximum(response, -0.2 * s)          # the part lifts off and hits its stop
        sub = 0.3 * s * np.sin(0.5 * phase + 0.4)
        a[:, 0] += rectified - np.mean(rectified) + sub
        a[:, 1] += 0.6 * (rectified - np.mean(rectified))
        a[:, 2] += 0.3 * sub
    a += rng.normal(0, machine.noise, a.shape)
    a[:, 2] += G
    rock = 2.0 * np.stack([a[:, 1] - a[:, 1].mean(), -(a[:, 0] - a[:, 0].mean()), 0.2 * a[:, 0]], -1)
    gyro = rock + rng.normal(0, 0.1, (n, 3))          # deg/s: the housing rocks with the radial vibration
    r = _euler(*machine.mount).T
    return np.concatenate([a @ r.T, gyro @ r.T], -1)


def write_dataset(out, n_machines=8, seconds=4.0, rate=1660.0, speeds=SPEEDS_HZ, conditions=CONDITIONS, seed=0,
                  log=print):
    """A dataset folder as `picoml capture` writes it: per machine, condition and speed one recording of the
    IMU (int16 counts at +-4 g and +-500 deg/s, scale, units, the machine's name as the person)."""
    from .capture import write_dataset as write
    from .motion import _Take, to_counts
    takes = []
    for machine in machines(n_machines, seed):
        for condition in conditions:
            for speed in speeds:
                x = vibrate(condition, seconds, rate, machine, speed)
                takes.append(_Take(to_counts(x), float(rate), condition, machine.name,
                                   board="virtual vibration generator"))
    return write(out, takes, "picoml.vibration (seed %d)" % seed, log=log or (lambda *a: None))
