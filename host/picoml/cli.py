"""The `picoml` command line."""
import argparse
import os
import sys

import numpy as np

from .argtypes import finite_float, heap_size, positive_int, random_seed
from .errors import PicomlError


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise PicomlError("cannot read %s: %s" % (path, e.strerror))


def _load_pml_or_tflite(path):
    """A planned Model and its .pml size, from either a .pml or (converted in memory) a .tflite."""
    from . import format
    from .convert import convert
    data = _read(path)
    if data[4:8] == b"TFL3":
        model = convert(data, path)
        return model, len(format.write(model))
    if data[:4] != format.MAGIC:
        raise PicomlError("%s is neither a picoml model (.pml) nor a TFLite model (.tflite): it starts with %r"
                          % (path, data[:8]))
    format.validate(data)       # every rule the device checks, in its words
    return format.read(data), len(data)


def _read_pml(path):
    """The bytes of the .pml at `path`, checked as the device checks them; a .tflite is told to be converted."""
    from . import format
    data = _read(path)
    if data[4:8] == b"TFL3":
        raise PicomlError("%s is a TFLite model (.tflite): convert it to .pml first: picoml convert %s" % (path, path))
    if data[:4] != format.MAGIC:
        raise PicomlError("%s is not a picoml model (.pml): it starts with %r, not %r" % (path, data[:4], format.MAGIC))
    format.validate(data)       # every rule the device checks, in its words
    return data


def cmd_convert(args):
    from . import format
    from .convert import convert
    from .paths import check_output_file
    from .report import summary
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    if args.labels_file:
        try:
            text = _read(args.labels_file).decode("utf-8")
        except UnicodeDecodeError:
            raise PicomlError("--labels-file %s is not a text file (UTF-8): give one class label per line"
                              % args.labels_file)
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    output = args.output or args.model.rstrip("/\\").rsplit(".", 1)[0] + ".pml"
    input_info = None
    if args.input_info:
        import json
        try:
            input_info = json.loads(args.input_info)
        except ValueError as e:
            raise PicomlError("--input-info is not JSON: %s" % e)
        if not isinstance(input_info, dict):
            raise PicomlError("--input-info must be a JSON object, e.g. '{\"sample_rate\": 100}'")
    from .quantize import is_float_model, quantize_file
    if is_float_model(args.model):
        if not args.calibration:
            raise PicomlError("%s is a float model: give --calibration samples.npy (a few hundred typical inputs, "
                              "[samples, ...input shape]) to quantize it to int8" % args.model)
    elif args.calibration:
        raise PicomlError("--calibration quantizes a float Keras model (.keras, .h5) or SavedModel folder; "
                          "%s is converted as it is" % args.model)
    tflite = None if is_float_model(args.model) else _read(args.model)
    if os.path.exists(output) and os.path.exists(args.model) and os.path.samefile(output, args.model):
        raise PicomlError("the output %s is the model itself: give another -o (e.g. a .pml)" % output)
    check_output_file(output, "the .pml (-o)")
    if tflite is None:
        tflite = quantize_file(args.model, args.calibration)
    model = convert(tflite, args.model, labels, input_info=input_info)
    blob = format.write(model)
    with open(output, "wb") as f:
        f.write(blob)
    print("wrote %s" % output)
    print("\n".join(summary(model, len(blob))))


def cmd_inspect(args):
    from .report import op_table, summary, tensor_table
    model, size = _load_pml_or_tflite(args.model)
    print("\n".join(summary(model, size)))
    print()
    print("\n".join(op_table(model)))
    if args.tensors:
        print()
        print("\n".join(tensor_table(model)))


def _load_npy(path):
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise PicomlError("cannot read %s as a .npy array: %s" % (path, e))
    if not isinstance(value, np.ndarray):      # a .npz archive (np.savez): several arrays
        names = ", ".join(value.files)
        value.close()
        raise PicomlError("%s is a .npz archive (arrays: %s); --input takes a .npy file of one array (np.save), "
                          "one --input per model input" % (path, names or "none"))
    return value


def _check_shapes(model, inputs, paths):
    """Refuse an input whose shape is not the model's input shape (size-1 axes aside: [49, 40] for [1, 49, 40, 1])
    though it has as many values: it would be reshaped silently into something else. A flat input ([1, 1960],
    micro_speech's) takes its values in order from any shape (`picoml features`' [49, 40])."""
    for i, (value, path) in enumerate(zip(inputs, paths)):
        if i >= len(model.inputs):
            break
        want = tuple(int(n) for n in model.tensors[model.inputs[i].tensor].shape)
        squeezed = tuple(n for n in want if n != 1)
        if value.size == int(np.prod(want)) and len(squeezed) > 1 and \
                tuple(n for n in value.shape if n != 1) != squeezed:
            raise PicomlError("input %d (%s) has shape %s; the model takes %s: the same number of values in another "
                              "order (transpose it, e.g. np.moveaxis)" % (i, path, list(value.shape), list(want)))


def _runtime(args, **options):
    """The runtime `--on` / `--port` name (options: what describes the target, e.g. heapsize)."""
    from . import runtimes
    if args.port:
        return runtimes.board(args.port)
    return runtimes.get(args.on, **options)


def cmd_run(args):
    from . import format
    from .paths import check_output_file
    data = _read_pml(args.model)        # refused here as on the device, whatever the runtime
    model = format.read(data)
    if len(args.output) not in (0, len(model.outputs)):
        raise PicomlError("the model has %d outputs but %d --output files were given"
                          % (len(model.outputs), len(args.output)))
    for path in args.output:
        if os.path.isdir(path) or path.endswith(("/", os.sep)):
            raise PicomlError("--output %s is a folder: give a .npy file name" % path)
        check_output_file(path if path.endswith(".npy") else path + ".npy", "--output")   # as np.save names it
    inputs = [_load_npy(p) for p in args.input]
    _check_shapes(model, inputs, args.input)
    if args.runtime:        # the old spelling of --on
        args.on = {"micropython": "unix"}.get(args.runtime, args.runtime)
    batch = _runtime(args).run_batch(data, [inputs], args.backend)
    if batch.note:
        print("picoml: %s" % batch.note, file=sys.stderr)
    outputs = batch.outputs[0]
    for path, value in zip(args.output, outputs):
        np.save(path, value)
    if not args.output:
        for value in outputs:
            print(np.array2string(value, separator=", "))
    print_top(model, outputs)


def _cell(value, digits=0):
    if value is None:
        return "-"
    return "%.*f" % (digits, value) if digits else "%d" % value


def _heap_cell(value):
    """heap/inference: bytes, or -1 for more than the heap had free (collected between inferences, it runs)"""
    return "over free" if value is not None and value < 0 else _cell(value)


ARCH_OF = {"qemu-m4": "armv7emsp", "bare-m4": "armv7emsp", "qemu-m0": "armv6m", "bare-m0": "armv6m",
           "bare-m0plus": "armv6m"}


def cmd_bench(args):
    from . import format, runtimes
    model, _ = _load_pml_or_tflite(args.model)
    blob = format.write(model)
    print("model       %s: %d ops, arena %d bytes, weights %d bytes, file %d bytes"
          % (model.metadata.get("source", args.model), len(model.ops), model.arena_size, model.weights_size, len(blob)))
    if args.on == "rp2040":
        args.on = "bare-m0plus"
    if not args.port and args.on in tuple(ARCH_OF) + ("unix", "c"):
        _print_scratch(blob, model, ARCH_OF.get(args.on))
    if args.on == "bare-m0plus":
        print("on rp2040js's Cortex-M0+ (bare-m0plus): the C kernels alone, no MicroPython (picoml's MicroPython port "
              "talks to the host over Arm semihosting, which rp2040js does not have)")
    options = {}
    if args.heapsize:
        if args.port or not (args.on == "unix" or args.on.startswith("qemu-")):
            raise PicomlError("--heapsize applies to --on unix and qemu-m4/qemu-m0/qemu-xtensa")
        options["heapsize"] = args.heapsize
    if args.per_op and (args.port or not args.on.startswith("bare-")):
        raise PicomlError("--per-op applies to --on bare-m4, bare-m0, bare-m0plus (rp2040): the kernels alone; inside "
                          "MicroPython (qemu-*) bench counts the whole predict()")
    if not args.port and args.on.startswith("qemu-"):
        options["count_classes"] = True
        print("on QEMU %s, heap %s: one whole predict() inside MicroPython, instructions counted exactly %s"
              % (args.on[5:], args.heapsize or "as the board leaves free",
                 "(TCG plugin; an emulated Xtensa dc233c core, not an ESP32)" if args.on == "qemu-xtensa"
                 else "by class (TCG plugin)"))
    runtime = _runtime(args, **options)
    rows = []
    if not args.port and args.on in ("unix", "c"):      # timed on this machine: the reference beside it
        rows.append(("reference (numpy)", runtimes.get("reference").bench(blob, count=args.count)))
    backends = args.backends if runtime.backends else [None]
    for backend in backends:
        count = args.count
        if args.on.startswith("qemu-") and not args.port:
            count = 1 if backend == "python" else 3             # exact counts: a few inferences suffice
        elif backend == "python":
            count = max(1, args.count // 10)
        elif args.on.startswith("bare-"):
            count = 1
        label = runtime.name if backend is None else "%s %s" % (runtime.name, backend)
        try:
            r = runtime.bench(blob, backend, count, per_op=True) if args.per_op else runtime.bench(blob, backend, count)
        except PicomlError as e:        # say so, and go on with the next backend
            rows.append((label, _bench_failure(e)))
            continue
        if backend and r.backend != backend:
            label += " (got %s)" % r.backend
        rows.append((label, r))
    emulated = not args.port and args.on in ARCH_OF
    if emulated:
        _print_emulated(model, rows, ARCH_OF[args.on])
    else:
        print("%-24s %12s %14s %14s %14s %16s" % ("runtime", "us/inference", "instructions", "cycles",
                                                "heap/inference", "heap after load"))
        for label, r in rows:
            if isinstance(r, str):
                print("%-24s %s" % (label, r))
                continue
            print("%-24s %12s %14s %14s %14s %16s%s" % (
                label, _cell(r.us, 1), _cell(r.instructions), _cell(r.cycles), _heap_cell(r.heap_per_inference),
                _cell(r.heap_used), "  (model in flash)" if r.model_in == "flash" else ""))
            if r.note:
                print("    %s" % r.note)
    times = {r.backend: r.us for _, r in rows if not isinstance(r, str) and r.backend and r.us}
    if "native" in times and "python" in times:
        print("native / pure Python: %.0fx faster" % (times["python"] / times["native"]))
    if args.per_op:
        for label, r in rows:
            if not isinstance(r, str) and r.per_op:
                _print_per_op(model, r, ARCH_OF[args.on])
    tflm = model.metadata.get("tflm_arena")
    if tflm:
        print("TFLite Micro arena for the same model: %d bytes (picoml arena %d bytes)" % (tflm["total"], model.arena_size))


def _print_scratch(blob, model, arch):
    """The kernels' scratch on `arch` (None: this machine) as the native module places it at load: in the arena's
    free bytes where the op leaves room, else in a buffer allocated beside the arena. The host build of that core's
    code path answers (make hostlib)."""
    variant = {"armv7emsp": "m4", "armv6m": "m0"}.get(arch)
    try:
        from .runtimes import c as c_runtime        # a checkout's tooling: an installed picoml says so
        lib = c_runtime.load(c_runtime.VARIANTS[variant])
        arena = max(model.arena_size, 4)
        status, largest = c_runtime.check(lib, blob, arena)
        _, apart = c_runtime.scratch_apart(lib, blob, arena)
    except PicomlError as e:
        print("scratch     not known: %s" % str(e).strip().splitlines()[0])
        return
    if status == 0:
        print("scratch     %d bytes beside the arena for the kernels on %s (an op takes up to %d, in the arena's "
              "free bytes where they have room)" % (apart, arch or "this machine", largest))


def _print_emulated(model, rows, arch):
    """The emulated cores' rows: instructions, cycles (estimated from the classes on QEMU, measured on rp2040js),
    MACs, MAC/cycle, the projected time at the reference board's clock; the classes under each row."""
    from . import cycles
    chip, clock = cycles.board_clock(arch)
    _, macs = cycles.model_macs(model)
    print("%-24s %14s %14s %11s %10s %13s %12s" % ("runtime", "instructions", "cycles", "MACs", "MAC/cycle",
                                                  "ms %s %dMHz" % (chip, clock // 1000000), "heap/infer."))
    for label, r in rows:
        if isinstance(r, str):
            print("%-24s %s" % (label, r))
            continue
        n, how = (r.cycles, "(rp2040js)") if r.cycles else (r.cycles_estimate, "(est.)")
        print("%-24s %14s %14s %11s %10s %13s %12s%s" % (
            label, _cell(r.instructions), ("%s %s" % (_cell(n), how)) if n else "-", _cell(macs),
            "%.3f" % (macs / n) if n and macs else "-", "%.2f" % (n / clock * 1e3) if n else "-",
            _heap_cell(r.heap_per_inference), "  (model in flash)" if r.model_in == "flash" else ""))
        if r.classes:
            print("    by class: " + ", ".join("%s %s" % (cycles.CLASS_NAMES[c], _cell(r.classes[c]))
                                             for c in cycles.CLASSES))
        if r.note:
            print("    %s" % r.note)
    if any(not isinstance(r, str) and r.cycles_estimate and not r.cycles for _, r in rows):
        print("cycles (est.): an estimate from the instruction classes with the %s's timing table "
              "(docs/benchmarks.md): no flash wait states, no bus contention"
              % ("Cortex-M4" if arch == "armv7emsp" else "Cortex-M0+"))


def _print_per_op(model, r, arch):
    """One line per op of a bare-metal run: MACs, instructions, cycles, MAC/cycle, its share, its classes."""
    from . import cycles
    chip, clock = cycles.board_clock(arch)
    per_macs, _ = cycles.model_macs(model)
    total = sum(c.get("cycles", c.get("cycles_estimate", 0)) for _, c in r.per_op) or 1
    print("per op (%s; the walker's call before the first kernel as op -):" % r.runtime)
    print("%4s %-34s %11s %12s %12s %10s %7s %9s  %s" % ("op", "name", "MACs", "instructions", "cycles", "MAC/cycle",
                                                        "share", "ms", "ldst/mul/simd/branch/div/other"))
    for i, (name, c) in enumerate(r.per_op):
        n = c.get("cycles", c.get("cycles_estimate"))
        macs = per_macs[i - 1] if i else 0
        classes = "/".join(_cell(c[k]) for k in cycles.CLASSES) if "ldst" in c else ""
        print("%4s %-34s %11s %12s %12s %10s %6.1f%% %9.3f  %s" % (
            i - 1 if i else "-", name, _cell(macs), _cell(c["insns"]), _cell(n),
            "%.3f" % (macs / n) if n and macs else "-", 100.0 * n / total, n / clock * 1e3, classes))
    print("cycles: %s" % ("rp2040js's, measured" if "cycles" in r.per_op[0][1] else "estimated (Cortex-M4 / M0+ "
                                                                                     "timing table)"))


def _bench_failure(e):
    """The line `picoml bench` prints for a backend that could not run."""
    lines = str(e).strip().splitlines()
    last = lines[-1] if lines else str(e)
    return ("does not fit: %s" if "MemoryError" in str(e) else "could not run: %s") % last


def _on_port(port, work):
    from .runtimes.serialport import on_port
    return on_port(port, work)


def cmd_repl(args):
    """MicroPython's REPL on the board (mpremote's, without a reset); on the virtual board while it runs."""
    import subprocess
    from .tools import find_tool
    tool = find_tool("mpremote", "mpremote")
    print("picoml: the board's REPL through mpremote; Ctrl-] leaves it")
    return _on_port(args.port, lambda port: subprocess.call([tool, "connect", port, "resume", "repl"]))


def cmd_virtual(args):
    """Keep the virtual board running so other tools (mpremote, a terminal) can use its serial port."""
    import signal
    import time
    from .virtual_board import VirtualBoard
    signal.signal(signal.SIGTERM, signal.default_int_handler)     # `kill` stops the board too, as Ctrl-C does
    mic = args.mic
    if mic:
        from .features import read_wav
        read_wav(mic)       # the board's microphone and front-end take 16 kHz mono 16-bit PCM: said here, not there
    if args.say:
        from . import resources, speech
        words = args.say.replace(",", " ").split()
        samples, spans = speech.sequence(words, args.voice, seed=args.seed, noise_kind=args.noise, snr_db=args.snr)
        mic = str(speech.write_wav(resources.cache_dir() / "virtual_mic.wav", samples))
        print("its microphone: %s said by %s in %s noise at %g dB SNR, %.1f s (%s)"
              % (" ".join(words), args.voice, args.noise, args.snr, len(samples) / speech.RATE,
                 ", ".join("%s at %.2f s" % (w, a / speech.RATE) for w, a, _ in spans)))
    with VirtualBoard(mic_wav=mic) as board:
        print("virtual board running: serial port %s (e.g. mpremote connect %s resume repl); Ctrl-C stops it"
              % (board.port, board.port), flush=True)
        try:
            while board.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def print_top(model, outputs):
    """The top class of a classifier's output, with its label and dequantized score."""
    labels = model.metadata.get("labels")
    if not labels or len(outputs) != 1 or outputs[0].size != len(labels):
        return
    t = model.tensors[model.outputs[0].tensor]
    k = int(np.argmax(outputs[0].reshape(-1)))
    print("top: %s (class %d, score %.3f)" % (labels[k], k, (int(outputs[0].reshape(-1)[k]) - t.zero_point) * t.scale))


def cmd_deploy(args):
    from .deploy import deploy
    if args.model:
        _read_pml(args.model)       # a missing or bad model: said before the board is opened
    _on_port(args.port, lambda port: deploy(args.model, port, args.tool, build=args.build,
                                            library=not args.model_only, frontend=not args.without_frontend))


TARGET_HELP = """where to run: reference (the numpy interpreter, the oracle), c (the C kernels built for this
machine, through ctypes), unix (the device library and x64 native module in MicroPython's unix port), qemu-m4 /
qemu-m0 (the device library and the armv7emsp / armv6m native module in picoml's MicroPython port on an emulated
Cortex-M4F, nRF52840-like, 200 KB heap / Cortex-M0, RP2040-like, 180 KB heap; a model that does not fit in RAM is
placed in flash, as in ROMFS), bare-m4 / bare-m0 / bare-m0plus (the C kernels alone, bare-metal on the emulated
Cortex-M4F / Cortex-M0 / rp2040js's Cortex-M0+)"""


def _target_arguments(p, default, extra=()):
    from .runtimes import NAMES
    where = p.add_mutually_exclusive_group()
    where.add_argument("--on", choices=NAMES + tuple(extra), default=default,
                       help=TARGET_HELP + " (default %s)" % default)
    where.add_argument("--port", help="on the board at this serial port instead (or 'virtual' for the virtual "
                                      "board); the library is deployed if missing, the model copied")


def _backend_list(text):
    """--backends: comma-separated device backends, each one picoml has (argparse's error otherwise)."""
    from .runtimes import DEVICE_BACKENDS
    names = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in names if b not in DEVICE_BACKENDS]
    if bad or not names:
        raise argparse.ArgumentTypeError("%r: give comma-separated backends from %s"
                                         % (text, ", ".join(DEVICE_BACKENDS)))
    return names


def parser():
    from .runtimes import DEVICE_BACKENDS
    from .speech import NOISES
    from . import __version__
    p = argparse.ArgumentParser(prog="picoml", description="int8 TinyML for MicroPython and CircuitPython")
    p.add_argument("--version", action="version", version="picoml %s" % __version__)
    sub = p.add_subparsers(dest="command", required=True)
    from . import capture, demo, features, fuzz, motion, plot, train
    for module in (capture, demo, features, fuzz, motion, plot, train):
        module.add_commands(sub)

    c = sub.add_parser("convert", help="convert an int8 .tflite model (or quantize a Keras model) to .pml")
    c.add_argument("model", help="fully int8-quantized .tflite file, or a float Keras model (.keras, .h5) or "
                                 "SavedModel folder with --calibration")
    c.add_argument("--calibration", metavar="SAMPLES",
                   help="typical inputs to quantize a float model with (.npy [samples, ...input shape]; .npz: one "
                        "array per input)")
    c.add_argument("-o", "--output", help="the .pml to write (default: beside the model)")
    c.add_argument("--labels", help="comma-separated class labels to store in the model")
    c.add_argument("--labels-file", help="a text file with one class label per line")
    c.add_argument("--input-info", metavar="JSON",
                   help='the input description to store, e.g. \'{"sample_rate": 100, "window": 128, '
                        '"axes": ["ax", "ay", "az"], "preprocessing": "raw int16 / 4096"}\'')
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("inspect", help="show a model's ops, shapes, quantization, memory and MACs")
    i.add_argument("model", help=".pml (or .tflite, converted in memory)")
    i.add_argument("--tensors", action="store_true", help="also list every tensor with its placement")
    i.set_defaults(func=cmd_inspect)

    r = sub.add_parser("run", help="run a .pml on an input and save the output")
    r.add_argument("model", help="the .pml model")
    r.add_argument("--input", action="append", required=True,
                   help=".npy input in the model's input shape: int8 as is, float32 quantized (repeat per input)")
    r.add_argument("--output", action="append", default=[], help=".npy to write the int8 output to (repeat per output)")
    _target_arguments(r, "reference")
    r.add_argument("--runtime", choices=("reference", "micropython", "qemu-m4", "qemu-m0"),
                   help=argparse.SUPPRESS)      # the old spelling of --on (micropython: --on unix)
    r.add_argument("--backend", choices=DEVICE_BACKENDS,
                   help="the device library's backend on unix, qemu-* and boards (default: native; on a board, "
                        "its fastest)")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("bench", help="time a model on each device backend (default: in the unix port) and the "
                                     "reference; on emulated cores, instructions per inference")
    b.add_argument("model", help=".pml (or .tflite, converted in memory)")
    _target_arguments(b, "unix", ("rp2040",))
    b.add_argument("--backends", type=_backend_list, default="native,viper,python",
                   help="comma-separated backends to time (%s)" % ", ".join(DEVICE_BACKENDS))
    b.add_argument("--count", type=positive_int, default=20, help="inferences per backend (pure Python uses fewer)")
    b.add_argument("--heapsize", type=heap_size, help="MicroPython heap, like a board's free RAM (e.g. 200k); "
                                                      "default 4m on the unix port, what the board leaves free on QEMU")
    b.add_argument("--per-op", action="store_true", help="bare-m4, bare-m0, bare-m0plus: also one line per op")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("deploy", help="copy the board's build of picoml and a model onto a board, and verify")
    d.add_argument("model", nargs="?", help="the .pml to copy (optional)")
    d.add_argument("--port", default="/dev/ttyACM0",
                   help="the board's serial port, or 'virtual' for the virtual board (default /dev/ttyACM0)")
    d.add_argument("--tool", choices=("mpremote", "ampy"),
                   help="copy with mpremote (MicroPython, default) or ampy (CircuitPython's serial REPL)")
    d.add_argument("--build", help="install this build folder (e.g. dist/armv6m_6.3) instead of the one "
                                   "picoml builds for the board; checked against the board all the same")
    d.add_argument("--model-only", action="store_true", help="copy the model alone (the library is there)")
    d.add_argument("--without-frontend", action="store_true",
                   help="only the small native module (without the audio front-end's ops, MUL, CONCATENATION, "
                        "PAD, SUB), which the library uses anyway for the models that need none of them: 38-42 KB less "
                        "flash, for an application that does not use picoml.audio; refused for a model that needs one")
    d.set_defaults(func=cmd_deploy)

    r = sub.add_parser("repl", help="the board's MicroPython REPL (through mpremote, no reset)")
    r.add_argument("--port", default="/dev/ttyACM0", help="the board's serial port, or 'virtual'")
    r.set_defaults(func=cmd_repl)
    v = sub.add_parser("virtual", help="start the virtual board and keep it running (its serial port is printed)")
    v.add_argument("--mic", help="a 16 kHz mono 16-bit PCM WAV its microphone plays, in real time (mic.wav on its flash)")
    v.add_argument("--say", help="words its microphone hears instead, spoken in noise (e.g. 'yes no left'; "
                                 "picoml.speech.sequence with espeak-ng)")
    v.add_argument("--voice", default="en-us+f4", help="the espeak-ng voice for --say (accent+speaker)")
    v.add_argument("--noise", default="pink", choices=NOISES, help="background noise for --say (default pink)")
    v.add_argument("--snr", type=finite_float, default=15.0, help="speech to noise ratio for --say, dB")
    v.add_argument("--seed", type=random_seed, default=0)
    v.set_defaults(func=cmd_virtual)
    return p


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")    # TensorFlow's C++ info and warnings (training prints
    # dozens of lines otherwise); its errors still show, and a user's own setting wins
    args = parser().parse_args(argv)
    try:
        status = args.func(args)     # None, or a status of its own (repl: mpremote's)
    except PicomlError as e:
        text = str(e)       # the device's refusals, which the host reuses, start with their own "picoml: "
        print("picoml: error: %s" % (text[len("picoml: "):] if text.startswith("picoml: ") else text), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as e:     # a path that cannot be read or written, wherever it is met: one line, as above
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        print("picoml: error: %s%s" % (e.strerror or e, ": %s" % where if where else ""), file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
