"""Synthetic speech for keyword spotting, with no download: words spoken by espeak-ng (Debian package espeak-ng)
in many voices, speeds and pitches, resampled to 16 kHz int16 mono and mixed with noise made here.

    from picoml import speech
    speech.write_dataset("data/kws", seed=0)        # also: picoml synth speech data/kws
    x, spans = speech.sequence(["yes", "no"], "en-us+f3", seed=1)   # a scripted stream of words in noise

A voice is an espeak-ng language (accent) with a variant (the speaker: formants, pitch range, breathiness), written
"en-us+m3". The variant is the voice's group: the training split holds whole variants out, so the test set's
voices (every accent of a held-out speaker) are never heard in training. docs/speech.md says how a clip is made and
what this data leaves out.
"""
import json
import pathlib
import shutil
import subprocess
import wave

import numpy as np

from .errors import PicomlError
from .features import read_wav  # noqa: F401 -- the dataset's clips, as picoml features reads them

RATE = 16000
CLIP = RATE                         # samples per clip: 1 s
KEYWORDS = ("yes", "no", "left", "right")
UNKNOWN = "unknown"
SILENCE = "silence"
# other words for the "unknown" class and for babble: none a keyword, nor one that sounds the same ("know",
# "write") -- no model could tell those apart
OTHER_WORDS = ("up", "down", "go", "stop", "on", "off", "cat", "dog", "bird", "bed", "house", "tree", "wow",
               "happy", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero", "learn",
               "follow", "forward", "backward", "visual", "yellow", "sheila", "marvin", "water", "table",
               "morning", "music")
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# espeak-ng's voice variants that sound like a person (not the robots, whispers and effects)
SPEAKERS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Diogo", "Gene", "Henrique",
            "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "Storm", "adam", "anika",
            "announcer", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
            "grandma", "grandpa", "gustave", "iven", "john", "linda", "marcelo", "max", "michel", "miguel",
            "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph", "travis",
            "victor", "zac")
NOISES = ("white", "pink", "brown", "hum", "babble")
SNRS_DB = (25, 20, 15, 10, 5)
ESPEAK_RATE = 22050


def voices(accents=ACCENTS, speakers=SPEAKERS):
    return ["%s+%s" % (a, s) for s in speakers for a in accents]


def speaker(voice):
    """The voice's group for the train/test split: its variant."""
    return voice.split("+", 1)[1] if "+" in voice else voice


def _espeak():
    exe = shutil.which("espeak-ng")
    if not exe:
        raise PicomlError("speech synthesis needs espeak-ng: apt-get install espeak-ng "
                          "(scripts/install-system-packages.sh installs it)")
    return exe


def resample(x, rate_in, rate_out=RATE):
    """float samples at rate_in -> rate_out by FFT (band-limited: the spectrum cut at the lower Nyquist)."""
    n_out = int(round(len(x) * rate_out / rate_in))
    spectrum = np.fft.rfft(x)
    keep = min(len(spectrum), n_out // 2 + 1)
    out = np.zeros(n_out // 2 + 1, complex)
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def say(word, voice, speed=160, pitch=50):
    """float64 samples at 16 kHz (full scale 1.0) of espeak-ng saying `word`, silence trimmed."""
    cmd = [_espeak(), "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", word]
    try:
        wav = subprocess.run(cmd, capture_output=True, check=True, timeout=30).stdout
    except subprocess.CalledProcessError as e:
        raise PicomlError("espeak-ng failed for %r in voice %s: %s" % (word, voice, e.stderr.decode().strip()))
    at = wav.find(b"data")      # written to a pipe: the header's sizes are placeholders, the data runs to the end
    if wav[:4] != b"RIFF" or at < 0:
        raise PicomlError("espeak-ng gave no WAV for %r in voice %s" % (word, voice))
    x = np.frombuffer(wav[at + 8:len(wav) - (len(wav) - at - 8) % 2], "<i2").astype(np.float64) / 32768
    x = resample(x, ESPEAK_RATE)
    loud = np.flatnonzero(np.abs(x) > 0.02 * (np.abs(x).max() + 1e-9))
    if not len(loud):
        raise PicomlError("espeak-ng said nothing for %r in voice %s" % (word, voice))
    return x[max(0, loud[0] - 160):loud[-1] + 160]


def _shaped(n, rng, exponent):
    """Gaussian noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    spectrum *= f ** (-exponent / 2)
    spectrum[f < 20] = 0             # no DC or sub-audio drift
    x = np.fft.irfft(spectrum, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def noise(kind, n, rng, babble_words=()):
    """n samples of background noise with unit RMS: white, pink, brown, mains hum (50 or 60 Hz and its harmonics
    over a little white noise) or babble (other words, overlapping, from `babble_words`: a list of arrays)."""
    if kind == "white":
        return _shaped(n, rng, 0)
    if kind == "pink":
        return _shaped(n, rng, 1)
    if kind == "brown":
        return _shaped(n, rng, 2)
    if kind == "hum":
        t = np.arange(n) / RATE
        base = rng.choice((50.0, 60.0)) * rng.uniform(0.995, 1.005)
        x = sum(rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 8))
        x = x / np.sqrt(np.mean(x ** 2)) + 0.1 * _shaped(n, rng, 0)
        return x / np.sqrt(np.mean(x ** 2))
    if kind == "babble":
        if not len(babble_words):
            raise ValueError("babble needs words")
        x = np.zeros(n)
        for _ in range(max(3, int(6 * n / RATE))):
            w = babble_words[rng.integers(len(babble_words))]
            start = int(rng.integers(-len(w) + 1, n))
            a, b = max(0, start), min(n, start + len(w))
            x[a:b] += w[a - start:b - start] * rng.uniform(0.5, 1.0)
        x += 0.05 * _shaped(n, rng, 1) * (np.sqrt(np.mean(x ** 2)) + 1e-3)
        return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    raise ValueError("unknown noise %r: choose from %s" % (kind, ", ".join(NOISES)))


def _rms(x):
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


def _active_rms(x):
    """RMS over the loud part (frames of 10 ms above a tenth of the loudest): the speech level for the SNR."""
    frames = x[:len(x) // 160 * 160].reshape(-1, 160)
    e = np.sqrt(np.mean(frames ** 2, axis=1))
    return float(np.sqrt(np.mean(e[e > 0.1 * e.max()] ** 2))) if len(e) else _rms(x)


def to_int16(x):
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def mix(word, background, offset, level_db, snr_db):
    """word placed at `offset` in background (unit RMS), the word at level_db dBFS (RMS while it speaks) and the
    background snr_db below it (None: no noise)."""
    x = np.zeros(len(background))
    w = word[:max(0, len(x) - offset)]
    speech_rms = 10 ** (level_db / 20)
    x[offset:offset + len(w)] = w * (speech_rms / (_active_rms(word) + 1e-12))
    if snr_db is not None:
        x += background * speech_rms * 10 ** (-snr_db / 20)
    return x


def write_wav(path, samples, rate=RATE):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())
    return path


def _utterance(word, voice, rng):
    """A word in this voice at a random speed (wpm) and pitch; it is sped up until it fits in 0.9 s."""
    speed, pitch = int(rng.integers(120, 211)), int(rng.integers(25, 76))
    w = say(word, voice, speed, pitch)
    while len(w) > 0.9 * CLIP and speed < 400:
        speed = int(speed * 1.25)
        w = say(word, voice, speed, pitch)
    return w[:int(0.9 * CLIP)], speed, pitch


def clip(label, voice, rng, babble_words, words=OTHER_WORDS):
    """(int16 [16000], description) of one 1 s clip: a keyword, an unknown word, or silence (noise only)."""
    kind = NOISES[rng.integers(len(NOISES))]
    background = noise(kind, CLIP, rng, babble_words)
    info = {"label": label, "voice": voice, "group": speaker(voice), "noise": kind}
    if label == SILENCE:
        level = float(rng.uniform(-65, -25))
        info.update(level_db=round(level, 1))
        return to_int16(background * 10 ** (level / 20)), info
    word = label if label != UNKNOWN else words[rng.integers(len(words))]
    w, speed, pitch = _utterance(word, voice, rng)
    offset = int(rng.integers(0, CLIP - len(w) + 1))
    level = float(rng.uniform(-32, -16))
    snr = None if rng.random() < 0.1 else float(SNRS_DB[rng.integers(len(SNRS_DB))])
    info.update(word=word, speed=speed, pitch=pitch, offset=offset, length=len(w), level_db=round(level, 1),
                snr_db=snr)
    return to_int16(mix(w, background, offset, level, snr)), info


def _babble_pool(voice_list, rng, count=12, words=OTHER_WORDS):
    return [say(words[rng.integers(len(words))], voice_list[rng.integers(len(voice_list))],
                int(rng.integers(130, 200)), int(rng.integers(30, 70))) for _ in range(count)]


def write_dataset(out, per_voice=2, keywords=KEYWORDS, accents=ACCENTS, speakers=SPEAKERS, accents_per_speaker=4,
                  seed=0, log=print):
    """A keyword dataset folder: one WAV per 1 s clip (16 kHz int16 mono) under <label>/, and index.json listing
    each with its label, voice, group (the speaker variant) and how it was made. Each speaker speaks with
    `accents_per_speaker` accents drawn from `accents` (a voice each); per voice: `per_voice` clips of each
    keyword, of unknown words and of silence. Babble is made of other words in the same speaker's voices,
    so no clip carries another speaker (the split by speaker stays clean)."""
    log = log or (lambda *a: None)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = list(keywords) + [UNKNOWN, SILENCE]
    words = tuple(w for w in OTHER_WORDS if w not in keywords)
    entries = []
    for s_index, spk in enumerate(speakers):
        rng = np.random.default_rng([seed, s_index])
        chosen = sorted(rng.permutation(len(accents))[:accents_per_speaker])
        spk_voices = voices([accents[i] for i in chosen], (spk,))
        pool = _babble_pool(spk_voices, rng, words=words)
        for voice in spk_voices:
            for label in labels:
                (out / label).mkdir(exist_ok=True)
                for k in range(per_voice):
                    samples, info = clip(label, voice, rng, pool, words)
                    name = "%s/%s_%d.wav" % (label, voice.replace("+", "_"), k)
                    write_wav(out / name, samples)
                    entries.append(dict(file=name, **info))
        log("  speaker %s: %d accents x %d labels x %d clips" % (spk, len(spk_voices), len(labels), per_voice))
    index = {"kind": "speech", "rate": RATE, "clip_samples": CLIP, "labels": labels, "keywords": list(keywords),
             "generator": "picoml.speech (espeak-ng, seed %d)" % seed, "clips": entries}
    (out / "index.json").write_text(json.dumps(index, indent=0) + "\n")
    log("%s: %d clips of %s" % (out, len(entries), ", ".join(labels)))
    return out


def load_dataset(folder):
    """(index dict, list of clip entries with their samples under "samples")."""
    folder = pathlib.Path(folder)
    path = folder / "index.json"
    if not path.exists():
        raise PicomlError("%s is not a speech dataset: it has no index.json (make one with picoml synth speech)"
                          % folder)
    try:
        index = json.loads(path.read_text())
        if isinstance(index, dict) and "recordings" in index and "clips" not in index:
            raise PicomlError("%s is a dataset of sensor recordings (.npz): train it with picoml train gesture or "
                              "picoml train anomaly" % folder)
        entries = index["clips"]
        if index.get("kind") != "speech":
            raise KeyError("kind")
        files = [str(e["file"]) for e in entries]
        for e in entries:
            e["label"] = str(e["label"])
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise PicomlError("%s: index.json is not a speech dataset index (%s: %s)" % (folder, type(e).__name__, e))
    _check_index(folder, index, entries, files)
    for e, name in zip(entries, files):
        e["samples"] = read_wav(folder / name)
        if len(e["samples"]) > CLIP:    # the model hears a clip's first second: a word after it was never heard
            raise PicomlError("%s is %.2f s long; a clip is at most 1 s (%d samples): cut it to the second that holds "
                              "the word" % (folder / name, len(e["samples"]) / RATE, CLIP))
    return index, entries


def _check_index(folder, index, entries, files):
    """PicomlError for an index that would crash training or train on what it did not mean (its labels and keywords
    filled in when left out: the clips' labels in order, every label but unknown and silence)."""
    where = "%s: index.json" % folder
    if len(set(files)) != len(files):
        raise PicomlError("%s lists %s twice" % (where, next(f for f in files if files.count(f) > 1)))
    missing = [f for e, f in zip(entries, files) if not str(e.get("group", "")).strip()]
    if missing:
        raise PicomlError("%s: clip %s has no group (its speaker: the split holds whole speakers out of training)"
                          % (where, missing[0]))
    labels = index.setdefault("labels", list(dict.fromkeys(e["label"] for e in entries)))
    keywords = index.setdefault("keywords", [x for x in labels if x not in (UNKNOWN, SILENCE)])
    if not isinstance(labels, list) or not isinstance(keywords, list):
        raise PicomlError("%s: labels and keywords must be lists of words" % where)
    odd = [f for e, f in zip(entries, files) if e["label"] not in labels]
    if odd:
        raise PicomlError("%s: clip %s is labelled %r, which is not one of its labels (%s)"
                          % (where, odd[0], entries[files.index(odd[0])]["label"], ", ".join(map(str, labels))))
    if not keywords or not set(keywords) <= set(labels):
        raise PicomlError("%s: its keywords (%s) must be some of its labels (%s)"
                          % (where, ", ".join(map(str, keywords)) or "none", ", ".join(map(str, labels))))


def sequence(words, voice, seed=0, gap=(0.8, 1.4), noise_kind="pink", snr_db=15.0, level_db=-24.0, lead=1.0):
    """A scripted stream: `words` spoken one after the other by `voice` with pauses of gap seconds (uniform),
    over one continuous background noise; returns (int16 samples, spans) where spans lists (word, first sample,
    last sample + 1) per word. The stream starts with `lead` seconds of noise alone."""
    rng = np.random.default_rng([seed, 7])
    spoken = [_utterance(w, voice, rng)[0] for w in words]
    pos = int(lead * RATE)
    spans = []
    for w in spoken:
        spans.append(pos)
        pos += len(w) + int(rng.uniform(*gap) * RATE)
    n = pos
    pool = _babble_pool([voice], rng) if noise_kind == "babble" else ()
    background = noise(noise_kind, n, rng, pool)
    speech_rms = 10 ** (level_db / 20)
    x = background * speech_rms * 10 ** (-snr_db / 20) if snr_db is not None else np.zeros(n)
    for w, start in zip(spoken, spans):
        x[start:start + len(w)] += w * (speech_rms / (_active_rms(w) + 1e-12))
    return to_int16(x), [(word, s, s + len(w)) for word, s, w in zip(words, spans, spoken)]
