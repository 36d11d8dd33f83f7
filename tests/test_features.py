"""picoml.features.features and `picoml features`: a clip's int8 [frames, 40] features through the shipped
front-end (TFLite Micro's micro_speech one, converted), TFLite Micro's bytes, and clear refusals of audio it does
not take."""
import wave

import numpy as np
import pytest

from conftest import CONFORMANCE, ROOT
from picoml import format
from picoml.cli import main
from picoml.convert import convert
from picoml.errors import PicomlError
from picoml.features import features, frame_count

MICRO_SPEECH = CONFORMANCE / "micro_speech"
FRONTEND_TFLITE = ROOT / "models" / "frontend" / "audio_preprocessor_int8.tflite"
FRONTEND_PML = ROOT / "models" / "frontend" / "frontend.pml"
INPUT_INFO = {"sample_rate": 16000, "window": 480, "hop": 320}


def write_wav(path, samples, rate=16000, channels=1, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples).astype("<i%d" % width if width > 1 else "u1").tobytes())
    return path


def test_shipped_frontend_is_the_tflite_converted():
    """models/frontend/frontend.pml is what `picoml convert` makes of the .tflite (with its input info); remake it
    with: picoml convert models/frontend/audio_preprocessor_int8.tflite -o models/frontend/frontend.pml
    --input-info '{"sample_rate": 16000, "window": 480, "hop": 320}'"""
    shipped = format.read(FRONTEND_PML.read_bytes())
    model = convert(FRONTEND_TFLITE.read_bytes(), FRONTEND_TFLITE.name, input_info=INPUT_INFO, measure_tflm=False)
    model.metadata["tflm_arena"] = shipped.metadata.get("tflm_arena")
    model.metadata = {k: v for k, v in model.metadata.items() if v is not None}
    assert format.write(model) == FRONTEND_PML.read_bytes()
    assert shipped.metadata["input"] == INPUT_INFO


CLIP_NAMES = ("yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms", "yes_30ms", "no_30ms")


@pytest.mark.conformance
@pytest.mark.parametrize("clip", [MICRO_SPEECH / (n + ".wav") for n in CLIP_NAMES], ids=lambda p: p.stem)
def test_features_of_the_shared_clips_are_tflite_micros(clip):
    expected = np.load(clip.with_name(clip.stem + ".features_int8.npy")).reshape(-1, 40)
    got = features(clip)
    assert got.dtype == np.int8 and got.shape == expected.shape and np.array_equal(got, expected)
    with wave.open(str(clip)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.array_equal(features(samples), expected)                     # samples work as the path does
    assert np.array_equal(features(samples.astype(np.int32)), expected)     # any integer array in range
    assert np.array_equal(features(samples, FRONTEND_TFLITE), expected)     # the .tflite as the front-end


def test_frames_and_the_state_reset_at_the_clip_start():
    rng = np.random.default_rng(3)
    clip = (rng.standard_normal(5000) * 3000).astype(np.int16)
    assert frame_count(5000) == 1 + (5000 - 480) // 320 == len(features(clip))
    assert frame_count(479) == 0 and frame_count(480) == 1 and frame_count(800) == 2
    # the state starts at zero for every clip: the same clip twice gives the same rows
    assert np.array_equal(features(clip), features(clip))
    # and a clip is not the tail of the one before: its first frame equals a fresh run of that frame
    tail = clip[320:]
    assert np.array_equal(features(tail)[0], features(clip[320:800])[0])


@pytest.mark.conformance
def test_cli_writes_the_npy(tmp_path, capsys):
    clip = MICRO_SPEECH / "no_1000ms.wav"
    out = tmp_path / "no.npy"
    assert main(["features", str(clip), "-o", str(out)]) == 0
    assert "49 frames x 40 int8" in capsys.readouterr().out
    got = np.load(out)
    assert got.dtype == np.int8 and np.array_equal(got, np.load(MICRO_SPEECH / "no_1000ms.features_int8.npy"))
    out2 = tmp_path / "no2.npy"
    assert main(["features", str(clip), "-o", str(out2), "--frontend", str(FRONTEND_PML)]) == 0
    assert np.array_equal(np.load(out2), got)


@pytest.mark.parametrize("kind, kwargs, words", [
    ("rate", dict(rate=8000), "8000 Hz, not 16000"),
    ("stereo", dict(channels=2), "2 channels, not 1 \\(mono\\)"),
    ("8bit", dict(width=1), "8-bit samples, not 16-bit"),
    ("32bit", dict(width=4), "32-bit samples, not 16-bit"),
])
def test_wav_of_another_format_is_refused(tmp_path, kind, kwargs, words):
    channels = kwargs.get("channels", 1)
    path = write_wav(tmp_path / (kind + ".wav"), np.zeros(16000 * channels, np.int16), **kwargs)
    with pytest.raises(PicomlError, match=words + ".*16 kHz mono 16-bit"):
        features(path)
    assert main(["features", str(path), "-o", str(tmp_path / "x.npy")]) == 2


def test_short_empty_and_bad_input_are_refused(tmp_path, capsys):
    with pytest.raises(PicomlError, match="has 479 samples, fewer than one frame of 480 .*0 frames"):
        features(np.zeros(479, np.int16))
    with pytest.raises(PicomlError, match="has 0 samples"):
        features(write_wav(tmp_path / "empty.wav", np.zeros(0, np.int16)))
    with pytest.raises(PicomlError, match="give one channel"):
        features(np.zeros((2, 1000), np.int16))
    with pytest.raises(PicomlError, match="float64; give int16 samples"):
        features(np.zeros(1000))
    with pytest.raises(PicomlError, match="int32; give int16"):
        features(np.full(1000, 40000, np.int32))
    (tmp_path / "junk.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(PicomlError, match="not a PCM WAV file"):
        features(tmp_path / "junk.wav")
    with pytest.raises(PicomlError, match="no such file"):
        features(tmp_path / "missing.wav")
    assert main(["features", str(tmp_path / "missing.wav")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.conformance
def test_micro_speech_on_our_features_gives_tflite_micros_outputs():
    """The keyword model on picoml's features of each clip (49 frames x 40 as its [1, 1960] input) gives TFLite
    Micro's outputs, through the reference."""
    from picoml import reference
    tflite = (MICRO_SPEECH / "micro_speech_quantized.tflite").read_bytes()
    model = format.read(format.write(convert(tflite, "micro_speech_quantized.tflite", measure_tflm=False)))
    for name in ("yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms"):
        path = MICRO_SPEECH / (name + ".micro_speech_output.npy")
        clip = MICRO_SPEECH / (path.name.split(".")[0] + ".wav")
        got = reference.run(model, [features(clip).reshape(1, -1)])[0]
        assert np.array_equal(got.reshape(-1), np.load(path).reshape(-1)), clip.name
