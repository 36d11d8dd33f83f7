"""Synthetic wrist motion: what a 6-axis IMU strapped to a wrist measures while a person performs a gesture.

Physics (docs/motion.md has the derivation and the limits):
- A gesture is a trajectory of the wrist: its position p(t) in a world frame (x forward, y to the left, z up)
  and its orientation R(t), a rotation from the sensor's frame to the world's. R(t) = R_gesture(t) * R_posture *
  R_mount: the gesture's rotation, the person's arm posture, and how the board sits on the wrist.
- The accelerometer measures specific force in the sensor frame: f = R(t)^T (p''(t) + g z), so at rest it reads
  +9.81 m/s^2 along whichever sensor axis points up. p'' is a central difference of p (step 1 ms).
- The gyroscope measures angular velocity in the sensor frame: the skew part of R(t)^T R'(t).
- Person-to-person variation: tempo, amplitude, posture, mounting angles, handedness (a left-handed person's
  motion is the mirror image across the x-z plane), phase; per-device bias and white noise on every channel.
Units: m/s^2 for acceleration, degrees per second for rotation rate. Any output data rate: the trajectory is a
function of time sampled where the sensor samples.
"""
import math
import pathlib
from dataclasses import dataclass, field

import numpy as np

from .argtypes import positive_float, positive_int, random_seed

G = 9.80665
GESTURES = ("idle", "wave", "circle", "punch", "shake")
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
UNITS = ("m/s^2", "m/s^2", "m/s^2", "deg/s", "deg/s", "deg/s")
_H = 1e-3                       # differentiation step, seconds


@dataclass
class Person:
    """How one person performs: tempo and amplitude factors, arm posture and board mounting (radians),
    handedness, and the sensor's bias and noise (m/s^2 and deg/s)."""
    tempo: float = 1.0
    amplitude: float = 1.0
    posture: tuple = (0.0, 0.0, 0.0)
    mount: tuple = (0.0, 0.0, 0.0)
    left_handed: bool = False
    accel_bias: tuple = (0.0, 0.0, 0.0)
    gyro_bias: tuple = (0.0, 0.0, 0.0)
    accel_noise: float = 0.03
    gyro_noise: float = 0.15
    seed: int = 0
    name: str = field(default="")

    @classmethod
    def random(cls, rng, name=""):
        rad = math.radians
        return cls(tempo=float(rng.uniform(0.75, 1.3)), amplitude=float(rng.uniform(0.7, 1.3)),
                   posture=tuple(float(a) for a in rng.uniform(-rad(12), rad(12), 3)),
                   mount=tuple(float(a) for a in rng.uniform(-rad(15), rad(15), 3)),
                   left_handed=bool(rng.random() < 0.3),
                   accel_bias=tuple(float(b) for b in rng.uniform(-0.15, 0.15, 3)),
                   gyro_bias=tuple(float(b) for b in rng.uniform(-1.5, 1.5, 3)),
                   accel_noise=float(rng.uniform(0.02, 0.05)), gyro_noise=float(rng.uniform(0.08, 0.25)),
                   seed=int(rng.integers(2 ** 31)), name=name)


def people(n, seed=0, prefix="p"):
    rng = np.random.default_rng(seed)
    return [Person.random(rng, "%s%02d" % (prefix, i)) for i in range(n)]


# -- rotations -------------------------------------------------------------------------------------------

def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _euler(roll, pitch, yaw):
    """Rz(yaw) Ry(pitch) Rx(roll), broadcast over arrays."""
    return _rz(yaw) @ _ry(pitch) @ _rx(roll)


# -- gestures: (position [n,3] m, (roll, pitch, yaw) [n] rad) as functions of time for one person ----------

def _min_jerk(u):
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u ** 2)


def _idle(t, k, ph):
    """Standing still, the arm down; every 8 s the arm is raised (as to look at the watch) and lowered again: not
    a gesture either, and what a person does between gestures."""
    drift = 0.04 * np.sin(2 * np.pi * 0.07 * t + ph)
    tremor = 5e-5 * np.sin(2 * np.pi * 9.0 * t + 3 * ph)
    breathing = 0.002 * np.sin(2 * np.pi * 0.25 * t + ph)
    u = np.mod(t + ph / (2 * np.pi) * 8.0, 8.0)
    lift = _min_jerk((u - 4.0) / 0.7) - _min_jerk((u - 6.0) / 0.8)
    p = np.stack([tremor + 0.1 * lift, 0.5 * tremor, breathing + 0.25 * lift], -1)
    return p, (drift + 0.3 * lift, 0.5 * drift - 1.05 * lift, 0.2 * drift)


def _wave(t, k, ph):
    w = 2 * np.pi * 2.0 * k["tempo"] * t + ph
    a = k["amplitude"]
    p = np.stack([0.02 * a * np.sin(2 * w), 0.12 * a * np.sin(w), 0.03 * a * (1 - np.cos(2 * w))], -1)
    zero = np.zeros_like(t)
    return p, (math.radians(35) * a * np.sin(w), zero + math.radians(-60), zero)


def _circle(t, k, ph):
    w = 2 * np.pi * 0.9 * k["tempo"] * t + ph
    r = 0.2 * k["amplitude"]
    p = np.stack([0.03 * np.sin(w), r * np.cos(w), r * np.sin(w)], -1)
    return p, (0.15 * np.sin(w), 0.1 * np.cos(w), 0.1 * np.sin(w))


def _punch(t, k, ph):
    period = 1.1 / k["tempo"]
    u = np.mod(t + ph / (2 * np.pi) * period, period)
    out, hold, back = 0.22 / k["tempo"], 0.06 / k["tempo"], 0.32 / k["tempo"]
    reach = 0.35 * k["amplitude"]
    x = reach * (_min_jerk(u / out) - _min_jerk((u - out - hold) / back))
    p = np.stack([x, 0.02 * x, 0.05 * x], -1)
    zero = np.zeros_like(t)
    return p, (0.6 * x, -0.4 * x, zero)


def _shake(t, k, ph):
    w = 2 * np.pi * 5.0 * k["tempo"] * t + ph
    a = k["amplitude"]
    p = np.stack([0.005 * a * np.sin(2 * w), 0.03 * a * np.sin(w), 0.01 * a * np.sin(2 * w + 1)], -1)
    zero = np.zeros_like(t)
    return p, (math.radians(10) * a * np.sin(w + 0.5), zero, zero)


_TRAJECTORIES = {"idle": _idle, "wave": _wave, "circle": _circle, "punch": _punch, "shake": _shake}


def _ramp(u):
    """0 before u = 0, 1 after u = 1, a minimum-jerk S between."""
    return _min_jerk(u)


def _pose(parts, t, person):
    """Position [n,3] and rotation [n,3,3] at times t, mirrored for a left-handed person. parts: (gesture, start,
    end, phase) in time order; the wrist moves from one gesture's trajectory to the next over BLEND seconds around
    each boundary (weights that sum to 1), as a person's does, instead of jumping."""
    k = {"tempo": person.tempo, "amplitude": person.amplitude}
    p = np.zeros(t.shape + (3,))
    angles = np.zeros((3,) + t.shape)
    for i, (gesture, begin, end, phase) in enumerate(parts):
        w = np.ones_like(t)
        if i > 0:
            w = w * _ramp((t - begin) / BLEND + 0.5)
        if i < len(parts) - 1:
            w = w * (1 - _ramp((t - end) / BLEND + 0.5))
        if not w.any():
            continue
        pi, ai = _TRAJECTORIES[gesture](t, k, phase)
        p += w[:, None] * pi
        angles += w * np.array([np.broadcast_to(a, t.shape) for a in ai])
    roll, pitch, yaw = angles
    if person.left_handed:           # mirror across the x-z plane: y, roll and yaw change sign
        p = p * np.array([1.0, -1.0, 1.0])
        roll, yaw = -roll, -yaw
    fixed = _euler(*person.posture) @ _euler(*person.mount)
    return p, _euler(roll, pitch, yaw) @ fixed


BLEND = 0.5         # seconds to move from one gesture into the next


def _measure(parts, t, person, rng, noise):
    """[n, 6]: what the IMU measures along the blended trajectory (see the module's doc)."""
    p_minus, r_minus = _pose(parts, t - _H, person)
    p_zero, r_zero = _pose(parts, t, person)
    p_plus, r_plus = _pose(parts, t + _H, person)
    accel_world = (p_plus - 2 * p_zero + p_minus) / _H ** 2 + np.array([0.0, 0.0, G])
    rt = np.swapaxes(r_zero, -1, -2)
    accel = np.einsum("nij,nj->ni", rt, accel_world)
    omega = rt @ (r_plus - r_minus) / (2 * _H)
    skew = 0.5 * (omega - np.swapaxes(omega, -1, -2))
    gyro = np.degrees(np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], -1))
    out = np.concatenate([accel, gyro], -1)
    if noise:
        out[:, :3] += np.array(person.accel_bias) + rng.normal(0, person.accel_noise, (len(t), 3))
        out[:, 3:] += np.array(person.gyro_bias) + rng.normal(0, person.gyro_noise, (len(t), 3))
    return out


def _check(gesture, rate, seconds):
    if gesture not in _TRAJECTORIES:
        raise ValueError("unknown gesture %r: choose from %s" % (gesture, ", ".join(GESTURES)))
    if not rate > 0 or not seconds > 0:
        raise ValueError("rate and seconds must be positive (got %r Hz, %r s)" % (rate, seconds))


def perform(gesture, seconds, rate, person=None, start=0.0, phase=None, noise=True):
    """[n, 6] float64 samples (ax, ay, az in m/s^2, gx, gy, gz in deg/s) of `person` performing `gesture` for
    `seconds` at `rate` Hz, the first sample at time `start`."""
    _check(gesture, rate, seconds)
    person = person or Person()
    rng = np.random.default_rng([person.seed, int(start * 1000), GESTURES.index(gesture)])
    phase = float(rng.uniform(0, 2 * np.pi)) if phase is None else phase
    t = start + np.arange(int(round(seconds * rate))) / rate
    return _measure([(gesture, start, start + seconds, phase)], t, person, rng, noise)


def sequence(steps, rate, person=None, noise=True):
    """A scripted performance: steps is a list of (gesture, seconds), performed one after the other with the
    wrist moving smoothly from one into the next; returns (samples [n, 6], spans) where spans lists (gesture,
    first sample, last sample + 1) per step."""
    person = person or Person()
    rng = np.random.default_rng([person.seed, len(steps)])
    parts, spans, n = [], [], 0
    for gesture, seconds in steps:
        _check(gesture, rate, seconds)
        count = int(round(seconds * rate))
        parts.append((gesture, n / rate, (n + count) / rate, float(rng.uniform(0, 2 * np.pi))))
        spans.append((gesture, n, n + count))
        n += count
    return _measure(parts, np.arange(n) / rate, person, rng, noise), spans


# LSM6DS3TR-C (the virtual board's IMU) at its default ranges: +-4 g (0.122 mg/LSB), +-500 deg/s (17.5 mdps/LSB)
SENSITIVITY = (0.122e-3 * G,) * 3 + (17.5e-3,) * 3
FULL_SCALE = (4 * G,) * 3 + (500.0,) * 3


def to_counts(samples, sensitivity=SENSITIVITY):
    """Physical units -> int16 raw counts, saturating like the sensor."""
    return np.clip(np.rint(samples / np.asarray(sensitivity)), -32768, 32767).astype(np.int16)


@dataclass
class _Take:
    """One synthetic recording in the shape capture.write_dataset takes."""
    samples: np.ndarray
    rate: float
    label: str
    person: str
    board: str = "virtual motion generator"
    gaps: tuple = ()
    channels: int = 6
    late: int = 0
    complete: bool = True
    scale: tuple = SENSITIVITY
    units: tuple = UNITS


def write_dataset(out, persons=8, seconds=20.0, rate=104.0, gestures=GESTURES, seed=0, log=print):
    """A dataset folder as `picoml capture` writes it: one recording per person and gesture (int16 counts of the
    virtual board's IMU, with scale, units and the person's name)."""
    from .capture import write_dataset as write
    takes = []
    for person in people(persons, seed):
        for gesture in gestures:
            x = perform(gesture, seconds, rate, person)
            takes.append(_Take(to_counts(x), float(rate), gesture, person.name))
    return write(out, takes, "picoml.motion (seed %d)" % seed, log=log or (lambda *a: None))


def _check_synth_out(out, kind):
    """A folder the dataset cannot go into is said before generating it: a file, a damaged index, or (speech,
    which writes an index of its own) another kind of dataset whose index would be replaced."""
    import json
    from .capture import read_index
    from .errors import PicomlError
    from .paths import check_output_folder
    if kind != "speech":
        read_index(out)             # gesture and vibration recordings are appended to a picoml dataset
        return
    check_output_folder(out, "the dataset (--out)")
    index = pathlib.Path(out) / "index.json"
    if index.exists():
        try:
            other = json.loads(index.read_text()).get("kind") != "speech"
        except (OSError, ValueError, AttributeError):
            other = True
        if other:
            raise PicomlError("%s is not a speech dataset's index, and a speech dataset would replace it: give "
                              "another --out folder" % index)


MAX_RATE = 10000.0      # Hz: above any IMU of boards/ (the LSM6DSOX's fastest is 6.66 kHz)


def cmd_synth(args):
    from .errors import PicomlError
    options = {k: getattr(args, k) for k in ("seconds", "rate") if getattr(args, k) is not None}
    if options.get("rate", 0) > MAX_RATE:
        raise PicomlError("--rate %g Hz: an IMU samples at most %g Hz (give the rate of the board's sensor)"
                          % (options["rate"], MAX_RATE))
    _check_synth_out(args.out, args.kind)
    if args.kind == "speech":
        from . import speech
        speech.write_dataset(args.out, per_voice=args.count or 2, seed=args.seed)
    elif args.kind == "gesture":
        write_dataset(args.out, persons=args.count or 8, seed=args.seed, **options)
    else:
        from . import vibration
        vibration.write_dataset(args.out, n_machines=args.count or 8, seed=args.seed, **options)
    return 0


def add_commands(subparsers):
    m = subparsers.add_parser("synth", help="write a synthetic dataset from the generators the virtual board plays: "
                                            "wrist gestures, machine vibration (normal and four faults), or "
                                            "spoken keywords in noise (espeak-ng)")
    m.add_argument("kind", choices=["gesture", "vibration", "speech"])
    m.add_argument("--out", required=True, help="the dataset folder")
    m.add_argument("--count", type=positive_int, help="persons (gesture, default 8), machines (vibration, default 8) or "
                                             "clips per voice and label (speech, default 2)")
    m.add_argument("--seconds", type=positive_float, help="seconds per recording (gesture 20, vibration 4)")
    m.add_argument("--rate", type=positive_float, help="output data rate, Hz (gesture 104, vibration 1660: the LSM6DS3TR-C's 1.66 kHz)")
    m.add_argument("--seed", type=random_seed, default=0)
    m.set_defaults(func=cmd_synth)


def write_motion_file(path, samples, rate):
    """A performance for the virtual board's IMU (emulated_chips.chip.MotionFile): float32 frames after a header."""
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 2 or samples.shape[1] != 6 or not len(samples):
        raise ValueError("a motion file holds [frames, 6] samples, not %s" % (samples.shape,))
    header = b"PMOT" + np.array([1, 6], "<u2").tobytes() + np.array([rate], "<f4").tobytes() \
        + np.array([len(samples)], "<u4").tobytes()
    with open(path, "wb") as f:
        f.write(header + samples.astype("<f4").tobytes())
    return path
