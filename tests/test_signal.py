"""TFLite Micro's audio front-end (the Signal library's ops and the int16/int32 builtins around them): converted to
.pml and run by the numpy reference, byte for byte TFLite Micro's features on every frame of the shared clips and
of synthesized ones, with the state (noise estimate) carried from frame to frame and reset at each clip's start."""
import wave

import numpy as np
import pytest

from conftest import CONFORMANCE, ROOT
from picoml import format, reference
from picoml.convert import convert
from picoml.errors import FormatError
from picoml.oracle import Oracle

FRONTEND = ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite"
MICRO_SPEECH = CONFORMANCE / "micro_speech"
CLIP_NAMES = ("yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms", "yes_30ms", "no_30ms")
CLIPS = [MICRO_SPEECH / (name + ".wav") for name in CLIP_NAMES]
WINDOW, HOP = 480, 320


@pytest.fixture(scope="module")
def frontend():
    model = convert(FRONTEND.read_bytes(), FRONTEND.name, measure_tflm=False)
    return format.read(format.write(model))


def frames(samples):
    return [samples[i:i + WINDOW] for i in range(0, len(samples) - WINDOW + 1, HOP)]


def run_reference(model, samples):
    interpreter = reference.Interpreter(model)
    return np.array([interpreter.run([f.reshape(1, WINDOW)])[0] for f in frames(samples)]).reshape(-1, 40)


def run_tflm(oracle, samples):
    oracle.reset()
    return np.array([oracle.run([f.reshape(1, WINDOW)])[0] for f in frames(samples)]).reshape(-1, 40)


def read_wav(path):
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)


@pytest.mark.conformance
@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_shared_clips_give_tflite_micros_features(frontend, clip):
    expected = np.load(clip.with_name(clip.stem + ".features_int8.npy")).reshape(-1, 40)
    got = run_reference(frontend, read_wav(clip))
    assert got.dtype == np.int8 and got.shape == expected.shape
    assert np.array_equal(got, expected)


def synthesized_clips(count=56, seed=12):
    """Tones, noise, chirps, square waves, clicks and silence, at levels from a whisper to full scale (the
    square waves and clipped noise reach -32768 and 32767), with their names."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000.0
    clips = [("silence", np.zeros(16000)), ("full_scale_square", np.where(np.sin(2 * np.pi * 440 * t) >= 0, 32767,
                                                                          -32768)),
             ("dc", np.full(16000, 12000.0)), ("min_dc", np.full(16000, -32768.0))]
    kinds = ("tone", "noise", "chirp", "tone_in_noise", "square", "clicks", "burst")
    while len(clips) < count:
        kind = kinds[len(clips) % len(kinds)]
        level = float(10 ** rng.uniform(0, np.log10(40000)))   # 1 .. beyond full scale (clipped)
        n = int(rng.choice([16000, 8000, 4800, 1000, 480]))
        tt = t[:n]
        if kind == "tone":
            x = level * np.sin(2 * np.pi * rng.uniform(20, 7900) * tt + rng.uniform(0, 6.3))
        elif kind == "noise":
            x = level * rng.standard_normal(n)
        elif kind == "chirp":
            f0, f1 = rng.uniform(50, 8000, 2)
            x = level * np.sin(2 * np.pi * (f0 * tt + (f1 - f0) * tt ** 2 / (2 * tt[-1] + 1e-9)))
        elif kind == "tone_in_noise":
            x = level * (np.sin(2 * np.pi * rng.uniform(100, 4000) * tt) + rng.uniform(0.05, 1) *
                         rng.standard_normal(n))
        elif kind == "square":
            x = level * np.sign(np.sin(2 * np.pi * rng.uniform(50, 3000) * tt))
        elif kind == "clicks":
            x = np.zeros(n)
            x[rng.integers(0, n, 20)] = level * rng.choice([-1, 1], 20)
        else:
            x = np.zeros(n)
            start = int(rng.integers(0, n // 2 + 1))
            x[start:start + n // 4] = level * rng.standard_normal(len(x[start:start + n // 4]))
        clips.append(("%s_%d" % (kind, len(clips)), x))
    return [(name, np.clip(np.rint(x), -32768, 32767).astype(np.int16)) for name, x in clips]


def test_synthesized_clips_give_tflite_micros_features(frontend):
    """At least 50 synthesized clips, every frame against TFLite Micro's runtime (reset at each clip's start)."""
    oracle = Oracle(FRONTEND.read_bytes())
    clips = synthesized_clips()
    assert len(clips) >= 50
    compared = 0
    for name, samples in clips:
        expected = run_tflm(oracle, samples)
        got = run_reference(frontend, samples)
        assert np.array_equal(got, expected), name
        compared += len(got)
    assert compared > 1000


def test_frames_run_op_by_op_give_the_same_bytes(frontend):
    """reference.run_frames (each op over all the frames at once, the stateful one frame by frame) gives what the
    interpreter gives frame by frame, on clips with -32768, silence and full scale."""
    for name, samples in synthesized_clips(16, seed=5):
        batch = np.stack([f.reshape(1, WINDOW) for f in frames(samples)])
        assert np.array_equal(reference.run_frames(frontend, batch).reshape(-1, 40),
                              run_reference(frontend, samples)), name


@pytest.mark.conformance
def test_state_carries_over_and_reset_restores_it(frontend):
    """The noise estimate carries from frame to frame: a clip after another gives other features than the clip
    alone, and reset() makes it the clip alone again."""
    noise, tone = synthesized_clips(12)[5][1], read_wav(CLIPS[0])
    interpreter = reference.Interpreter(frontend)
    alone = run_reference(frontend, tone)
    for f in frames(noise):
        interpreter.run([f.reshape(1, WINDOW)])
    after = np.array([interpreter.run([f.reshape(1, WINDOW)])[0] for f in frames(tone)]).reshape(-1, 40)
    assert not np.array_equal(after, alone)
    interpreter.reset()
    again = np.array([interpreter.run([f.reshape(1, WINDOW)])[0] for f in frames(tone)]).reshape(-1, 40)
    assert np.array_equal(again, alone)


@pytest.mark.conformance
def test_every_intermediate_tensor_is_tflite_micros(frontend):
    """Each op's output on the first frames of a clip, against TFLite Micro's tensor (the kernels of the other
    runtimes are held to these). SignalEnergy writes only its bins start..end (TFLite Micro leaves the others as
    they were in its arena; picoml's are 0), so only those are compared, there and in the CAST of them."""
    model = convert(FRONTEND.read_bytes(), FRONTEND.name, measure_tflm=False)
    oracle = Oracle(FRONTEND.read_bytes(), keep_all_tensors=True)
    interpreter = reference.Interpreter(model)
    source = model.source_tensors
    checked = set()
    defined = {}        # tensor -> the range of its values TFLite Micro defines
    for op in model.ops:
        if op.name == "SIGNAL_ENERGY":
            defined[op.outputs[0]] = (op.params["start_index"], op.params["end_index"])
        elif op.name == "CAST" and op.inputs[0] in defined:
            defined[op.outputs[0]] = defined[op.inputs[0]]
    for frame in frames(read_wav(CLIPS[-3]))[:6]:
        trace = []
        interpreter.run([frame.reshape(1, WINDOW)], trace)
        oracle.run([frame.reshape(1, WINDOW)])
        for i, values in trace:
            op = model.ops[i]
            for t, value in zip(op.outputs, values):
                if t not in source:
                    continue
                expected = np.asarray(oracle.tensor(source[t])).reshape(value.shape)
                if t in defined:
                    lo, hi = defined[t]
                    expected, value = expected[lo:hi], value[lo:hi]
                assert np.array_equal(value, expected.astype(value.dtype)), (i, op.name)
                checked.add(op.name)
    assert {"SIGNAL_RFFT", "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION", "SIGNAL_PCAN", "SIGNAL_FILTER_BANK_LOG",
            "DIV_INT32", "STRIDED_SLICE"} <= checked


def test_state_has_arena_bytes_of_its_own(frontend):
    """The planner never lets another tensor use a state tensor's bytes."""
    state = [t for t in frontend.tensors if t.state]
    assert state
    for s in state:
        for t in frontend.tensors:
            if t is not s and not t.is_constant:
                assert t.offset + t.nbytes <= s.offset or s.offset + s.nbytes <= t.offset, (s, t)


def test_the_device_runs_the_front_ends_ops(frontend):
    """The device library's load-time checks accept the front-end without the host's ops: the device runs every
    op of it (native_module/, kernels_python; tests/test_frontend_device.py)."""
    from picoml.format import device_module
    from picoml.optable import BY_NAME
    blob = format.write(frontend)
    device_module("validate").check(blob)
    assert all(BY_NAME[op.name].device for op in frontend.ops)


def _refused(model, message):
    with pytest.raises(FormatError, match=message):
        format.read(format.write(model))


def _op(model, name):
    return next(op for op in model.ops if op.name == name)


@pytest.mark.parametrize("name, param, value, message", [
    ("SIGNAL_RFFT", "fft_length", 500, "fft_length must be a power of two"),
    ("SIGNAL_RFFT", "fft_length", 256, "the input's last dimension must be fft_length or less"),
    ("SIGNAL_ENERGY", "end_index", 300, "start_index..end_index must lie inside the output"),
    ("SIGNAL_WINDOW", "shift", 32, "shift must be 0..31"),
    ("SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION", "spectral_subtraction_bits", 64, "must be 0..63"),
    ("SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION", "clamping", 2, "clamping must be 0 or 1"),
    ("SIGNAL_PCAN", "snr_shift", -1, "snr_shift must be 0..63"),
    ("STRIDED_SLICE", "begin_3", 250, "the slice's last element must lie inside the input"),
    ("STRIDED_SLICE", "stride_3", 0, "strides must not be 0"),
    ("ADD_INT32", "act_max", -5, "act_max must be act_min or more"),
])
def test_bad_params_are_refused(frontend, name, param, value, message):
    model = format.read(format.write(frontend))
    if name == "ADD_INT32":
        _op(model, name).params["act_min"] = 0
    _op(model, name).params[param] = value
    _refused(model, message)


def test_bad_operands_are_refused(frontend):
    model = format.read(format.write(frontend))
    op = _op(model, "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION")
    model.tensors[op.inputs[1]].state = False      # the state operand an activation
    _refused(model, "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION.*state must be a state tensor")
    model = format.read(format.write(frontend))
    op = _op(model, "SIGNAL_FILTER_BANK")
    widths = model.tensors[op.inputs[5]]
    widths.data = widths.data.copy()
    widths.data[3] = 400
    _refused(model, "a channel's band must lie inside the input")
    model = format.read(format.write(frontend))
    op = _op(model, "SIGNAL_PCAN")
    model.tensors[op.inputs[2]].data = model.tensors[op.inputs[2]].data[:100].copy()
    model.tensors[op.inputs[2]].shape = (100,)
    from picoml import planner
    planner.pack_weights(model)
    _refused(model, "the gain table must have 125 values")
    model = format.read(format.write(frontend))
    op = _op(model, "CONCATENATION")
    model.tensors[op.inputs[0]].dtype = np.dtype(np.int16)
    model.tensors[op.inputs[0]].data = model.tensors[op.inputs[0]].data.astype(np.int16)
    _refused(model, "CONCATENATION.*must be the output's dtype")


def frontend_variant(options):
    """The front-end's .tflite with some custom ops' options changed ({custom code: {option: value}}), rebuilt
    with the TFLite schema's object API: another front-end of the same ops."""
    import flatbuffers
    from flatbuffers import flexbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    data = FRONTEND.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    changed = set()
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex].customCode
        code = code.decode() if isinstance(code, bytes) else code
        if code in options:
            values = flexbuffers.Loads(bytes(op.customOptions))
            assert set(options[code]) <= set(values), (code, values)
            values.update(options[code])
            op.customOptions = list(flexbuffers.Dumps(values))
            changed.add(code)
    assert changed == set(options)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


VARIANTS = {
    "clamping_smoothing": {"SignalFilterBankSpectralSubtraction": {
        "clamping": True, "smoothing": 1500, "one_minus_smoothing": 14884, "alternate_smoothing": 300,
        "alternate_one_minus_smoothing": 16084, "smoothing_bits": 8, "spectral_subtraction_bits": 14,
        "min_signal_remaining": 3000}},
    "gains_and_scales": {"SignalWindow": {"shift": 11}, "SignalPCAN": {"snr_shift": 5},
                         "SignalFilterBankLog": {"input_correction_bits": 2, "output_scale": 96}},
    "wide_energy": {"SignalEnergy": {"start_index": 2, "end_index": 250}},
    "extremes": {"SignalWindow": {"shift": 0}, "SignalPCAN": {"snr_shift": 0},
                 "SignalFilterBankLog": {"input_correction_bits": 0, "output_scale": 4000},
                 "SignalFilterBankSpectralSubtraction": {"smoothing_bits": 0, "spectral_subtraction_bits": 0,
                                                         "min_signal_remaining": 0}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_frontends_with_other_options_give_tflite_micros_features(variant):
    """Any front-end built from these ops converts and runs as TFLite Micro runs it: the micro_speech front-end with
    its ops' options changed, every frame of synthesized clips against TFLite Micro's runtime."""
    data = frontend_variant(VARIANTS[variant])
    model = format.read(format.write(convert(data, variant, measure_tflm=False)))
    oracle = Oracle(data)
    clips = synthesized_clips(14, seed=len(variant))
    differs = False
    for name, samples in clips:
        expected = run_tflm(oracle, samples)
        assert np.array_equal(run_reference(model, samples), expected), (variant, name)
    default = Oracle(FRONTEND.read_bytes())
    differs = any(not np.array_equal(run_tflm(default, s), run_tflm(oracle, s)) for _, s in clips)
    assert differs or variant == "wide_energy", "the options changed nothing"


def frontend_with_fft(fft_length):
    """The front-end with a longer FFT (its 480 samples zero-padded to fft_length, a power of two): the spectrum,
    energy, their casts and the zero padding before the filter bank resized in the flatbuffer. A real FFT of 1024
    points is a complex one of 512 = 4 x 4 x 4 x 4 x 2: KISS FFT's radix-2 stage, which 512 points do not reach."""
    import flatbuffers
    from flatbuffers import flexbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(FRONTEND.read_bytes(), 0))
    graph = model.subgraphs[0]
    tensors = {t.name.decode(): t for t in graph.tensors}
    bins = fft_length // 2 + 1
    for name, size in (("signal_rfft", 2 * bins), ("signal_energy", bins), ("Cast", bins), ("concat", bins),
                       ("Cast_1", bins), ("zeros_1", bins - 241)):
        tensors[name].shape = [size]
    model.buffers[tensors["zeros_1"].buffer].data = [0] * (4 * (bins - 241))
    for op in graph.operators:
        if model.operatorCodes[op.opcodeIndex].customCode in (b"SignalRfft", "SignalRfft"):
            values = flexbuffers.Loads(bytes(op.customOptions))
            values["fft_length"] = fft_length
            op.customOptions = list(flexbuffers.Dumps(values))
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("fft_length", [1024, 2048])
def test_frontend_with_a_longer_fft_gives_tflite_micros_features(fft_length):
    data = frontend_with_fft(fft_length)
    model = convert(data, "fft%d" % fft_length, measure_tflm=False)      # (checked by the device's rules)
    assert next(op for op in model.ops if op.name == "SIGNAL_RFFT").params["fft_length"] == fft_length
    oracle = Oracle(data, keep_all_tensors=True)
    rfft_op = next(i for i, op in enumerate(model.ops) if op.name == "SIGNAL_RFFT")
    spectrum = model.source_tensors[model.ops[rfft_op].outputs[0]]
    for name, samples in synthesized_clips(10, seed=fft_length):
        expected = run_tflm(oracle, samples)
        assert np.array_equal(run_reference(model, samples), expected), (fft_length, name)
    # the spectrum itself, bin for bin, on the last frame
    trace = []
    reference.Interpreter(model).run([frames(samples)[-1].reshape(1, WINDOW)], trace)
    oracle.reset()
    oracle.run([frames(samples)[-1].reshape(1, WINDOW)])
    assert np.array_equal(trace[rfft_op][1][0], np.asarray(oracle.tensor(spectrum)).reshape(-1))
