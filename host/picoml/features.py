"""Audio features as keyword models take them: a 16 kHz mono 16-bit clip cut into frames of 480 samples (30 ms)
every 320 (20 ms), each frame through an audio front-end model (TFLite Micro's micro_speech front-end by default,
shipped converted as models/frontend/frontend.pml), the front-end's state reset at the clip's start. The front-end
runs in picoml's numpy reference, so the features are byte for byte what TFLite Micro and every picoml runtime give.

    features(samples_or_path, frontend=None) -> int8 [frames, 40]       (training calls this)
    picoml features IN.wav -o OUT.npy [--frontend MODEL.pml|.tflite]
"""
import wave

import numpy as np

from .errors import PicomlError

SAMPLE_RATE = 16000
WINDOW = 480            # samples per frame (30 ms), the front-end's input
HOP = 320               # samples from one frame to the next (20 ms)

_frontends = {}


def default_frontend():
    """The path of the shipped front-end, TFLite Micro's micro_speech one converted to .pml."""
    from .resources import frontend_model
    return frontend_model()


def load_frontend(frontend=None):
    """The front-end as a picoml.format.Model: a .pml or .tflite path (a .tflite is converted), a Model, or None for
    the default. Loaded once per path."""
    from . import format
    from .convert import convert
    if frontend is not None and not isinstance(frontend, (str, bytes)) and hasattr(frontend, "ops"):
        return frontend
    path = str(default_frontend() if frontend is None else frontend)
    if path not in _frontends:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise PicomlError("cannot read the front-end %s: %s" % (path, e.strerror))
        if data[4:8] == b"TFL3":
            model = format.read(format.write(convert(data, path, measure_tflm=False)))
        else:
            model = format.read(data)
        _check_frontend(model, path)
        _frontends[path] = model
    return _frontends[path]


def _check_frontend(model, path):
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise PicomlError("the front-end %s has %d inputs and %d outputs; a front-end takes one frame of samples and "
                          "gives one feature row" % (path, len(model.inputs), len(model.outputs)))
    t = model.tensors[model.inputs[0].tensor]
    if t.dtype != np.int16:
        raise PicomlError("the front-end %s takes %s input; a front-end takes int16 samples" % (path, t.dtype.name))


def read_wav(path):
    """The int16 samples of a 16 kHz mono 16-bit PCM WAV file; PicomlError saying what the file is otherwise."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            data = w.readframes(n)
    except FileNotFoundError:
        raise PicomlError("no such file: %s" % path)
    except IsADirectoryError:
        raise PicomlError("%s is a folder, not a WAV file" % path)
    except OSError as e:
        raise PicomlError("cannot read %s: %s" % (path, e.strerror or e))
    except Exception as e:     # wave.Error, EOFError, and the RuntimeError or struct.error of a damaged header
        raise PicomlError("%s is not a PCM WAV file (%s); give 16 kHz mono 16-bit PCM audio"
                          % (path, e if isinstance(e, wave.Error) else "%s: %s" % (type(e).__name__, e)))
    problems = []
    if rate != SAMPLE_RATE:
        problems.append("%d Hz, not %d" % (rate, SAMPLE_RATE))
    if channels != 1:
        problems.append("%d channels, not 1 (mono)" % channels)
    if width != 2:
        problems.append("%d-bit samples, not 16-bit" % (8 * width))
    if problems:
        raise PicomlError("%s is %s: the front-end takes 16 kHz mono 16-bit PCM audio (resample or convert it, e.g. "
                          "`sox IN -r 16000 -c 1 -b 16 OUT.wav`)" % (path, ", ".join(problems)))
    return np.frombuffer(data[:len(data) // 2 * 2], "<i2").astype(np.int16)


def _samples(samples_or_path):
    if isinstance(samples_or_path, (str, bytes)) or hasattr(samples_or_path, "__fspath__"):
        return read_wav(samples_or_path), str(samples_or_path)
    x = np.asarray(samples_or_path)
    if x.ndim != 1:
        raise PicomlError("the samples have shape %s; give one channel (mono) as a 1-D array" % (list(x.shape),))
    if x.dtype != np.int16:
        if x.dtype.kind not in "iu" or (x.size and (x.min() < -32768 or x.max() > 32767)):
            raise PicomlError("the samples are %s; give int16 samples (16-bit PCM)" % x.dtype)
        x = x.astype(np.int16)
    return x, "the clip"


def frame_count(n_samples, window=WINDOW, hop=HOP):
    """Frames in a clip of n samples: every whole window, one per hop."""
    return 0 if n_samples < window else (n_samples - window) // hop + 1


def features(samples_or_path, frontend=None):
    """int8 [frames, 40]: the front-end's features of a clip -- a 16 kHz mono 16-bit WAV path or int16 samples --
    frames of 480 samples every 320, the front-end's state reset at the clip's start. frontend: a .pml or .tflite
    path or a loaded Model (None: TFLite Micro's micro_speech front-end). PicomlError for a clip shorter than a
    frame (0 frames) or audio of another format."""
    from .reference import run_frames
    samples, what = _samples(samples_or_path)
    model = load_frontend(frontend)
    t_in = model.tensors[model.inputs[0].tensor]
    t_out = model.tensors[model.outputs[0].tensor]
    window = int(np.prod(t_in.shape))
    hop = int(model.metadata.get("input", {}).get("hop", HOP)) if isinstance(model.metadata.get("input"), dict) \
        else HOP
    n = frame_count(len(samples), window, hop)
    if n == 0:
        raise PicomlError("%s has %d samples, fewer than one frame of %d (%d ms at 16 kHz): it gives 0 frames of "
                          "features" % (what, len(samples), window, window * 1000 // SAMPLE_RATE))
    frames = np.stack([samples[i * hop:i * hop + window].reshape(t_in.shape) for i in range(n)])
    # every frame in order from the state at load (zero): the clip's start resets it
    return run_frames(model, frames).reshape(n, int(np.prod(t_out.shape)))


def cmd_features(args):
    rows = features(args.input, args.frontend)
    output = args.output or str(args.input).rsplit(".", 1)[0] + ".features.npy"
    try:
        np.save(output, rows)
    except OSError as e:
        raise PicomlError("cannot write %s: %s" % (output, e.strerror))
    print("wrote %s: %d frames x %d %s features" % (output, rows.shape[0], rows.shape[1], rows.dtype.name))


def add_commands(sub):
    p = sub.add_parser("features", help="audio features of a 16 kHz mono WAV clip (the keyword models' input)")
    p.add_argument("input", help="16 kHz mono 16-bit PCM .wav")
    p.add_argument("-o", "--output", help=".npy to write the int8 [frames, 40] features to (default: beside the "
                                          "input, .features.npy)")
    p.add_argument("--frontend", help="the front-end model, .pml or .tflite (default: TFLite Micro's micro_speech "
                                      "front-end, models/frontend/frontend.pml)")
    p.set_defaults(func=cmd_features)
