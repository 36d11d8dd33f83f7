"""Random Keras models made of the layers picoml supports, converted to fully-int8 TFLite, run on TFLite Micro and
on picoml: every output byte must be the same. genmodels.py covers each op and option once, by hand; this draws
architectures, shapes, strides, paddings, dilations, activations, branches and quantization ranges at random, so
that combinations nobody wrote down are checked too.

    python tests/random_models.py --cases 100 --seed 0            # reference and C kernels (x64, M4 and M0 paths)
    python tests/random_models.py --cases 20 --device              # also the device library on the unix port
    python tests/random_models.py --cases 20 --emulated            # also the chips' kernels on emulated cores
    python tests/random_models.py --case 0:17 --keep build/random  # one case again, its .tflite kept

A case is (seed, number): the same pair always builds the same model. The summary counts the cases that agreed,
those picoml refused (with the refusal: a layer combination the converter turned into an op picoml lacks) and
those that differed, naming the first runtime and op that differed; it exits 1 when any differed or failed.
"""
import argparse
import pathlib
import sys
import traceback

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import genmodels  # noqa: E402  (TensorFlow is imported on first use, by genmodels)
from models import test_inputs  # noqa: E402

ACTIVATIONS = (None, "relu", "relu6", "tanh", "sigmoid", "hard_swish", "leaky_relu")
N_INPUTS = 6


class Draw:
    """A random architecture for one case, built with Keras' functional API on the shape it has reached."""

    def __init__(self, rng):
        self.rng = rng
        self.layers = genmodels.layers

    def width(self):
        """A channel count: mostly small, sometimes wide enough for the kernels' blocked paths and their tails."""
        return int(self.rng.integers(1, 17) if self.chance(0.75) else self.rng.integers(17, 72))

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p):
        return bool(self.rng.random() < p)

    def activation(self, x, allow_none=True):
        name = self.pick(ACTIVATIONS if allow_none else ACTIVATIONS[1:])
        if name is None:
            return x
        if name == "leaky_relu":
            return self.layers.LeakyReLU(negative_slope=float(self.rng.uniform(0.01, 0.5)))(x)
        if name == "relu6":
            return self.layers.ReLU(max_value=6.0)(x)
        return self.layers.Activation(name)(x)

    def conv(self, x, rank):
        """A convolution (plain, depthwise or separable) that fits the input's spatial size."""
        spatial = x.shape[1:1 + rank]
        kind = self.pick(("conv", "conv", "depthwise", "separable", "transpose"))
        if kind == "transpose" and int(np.prod(spatial)) > 1024:
            kind = "conv"
        kernel = tuple(int(self.rng.integers(1, min(self.pick((3, 5, 7)), s) + 1)) for s in spatial)
        strided = self.chance(0.35)
        strides = tuple(int(self.rng.integers(1, 4)) if strided else 1 for _ in spatial)
        dilation = tuple(1 for _ in spatial)
        if not strided and self.chance(0.25):
            dilation = tuple(int(self.rng.integers(1, 3)) if (k - 1) * 2 + 1 <= s else 1
                             for k, s in zip(kernel, spatial))
        padding = self.pick(("same", "valid"))
        args = dict(kernel_size=kernel if rank == 2 else kernel[0], strides=strides if rank == 2 else strides[0],
                    padding=padding, dilation_rate=dilation if rank == 2 else dilation[0],
                    use_bias=self.chance(0.8))
        filters = self.width()
        L = self.layers
        if kind == "conv":
            channels = int(x.shape[-1])
            groups = self.pick([g for g in (2, 3, 4) if channels % g == 0] or [1]) if self.chance(0.2) else 1
            if groups > 1:
                # a grouped convolution (per group a slice of the channels and a CONV_2D)
                filters = groups * max(1, filters // groups)
            layer = (L.Conv2D if rank == 2 else L.Conv1D)(filters, groups=groups, **args)
        elif kind == "transpose":
            # TRANSPOSE_CONV (a CONV_2D per phase of the stride), with an output_padding sometimes
            del args["dilation_rate"]
            if strided and self.chance(0.3):
                extra = tuple(int(self.rng.integers(0, s)) for s in strides)
                args["output_padding"] = extra if rank == 2 else extra[0]
            layer = (L.Conv2DTranspose if rank == 2 else L.Conv1DTranspose)(filters, **args)
        elif kind == "depthwise":
            layer = (L.DepthwiseConv2D if rank == 2 else L.DepthwiseConv1D)(
                depth_multiplier=int(self.pick((1, 1, 2, 3))), **args)
        else:
            layer = (L.SeparableConv2D if rank == 2 else L.SeparableConv1D)(
                filters, depth_multiplier=int(self.pick((1, 1, 2))), **args)
        return layer(x)

    def pool(self, x, rank):
        spatial = x.shape[1:1 + rank]
        size = tuple(int(self.rng.integers(1, min(4, s) + 1)) for s in spatial)
        strides = tuple(int(self.rng.integers(1, k + 1)) for k in size)
        padding = self.pick(("same", "valid"))
        L = self.layers
        if rank == 2:
            kind = self.pick((L.MaxPooling2D, L.AveragePooling2D))
            return kind(pool_size=size, strides=strides, padding=padding)(x)
        kind = self.pick((L.MaxPooling1D, L.AveragePooling1D))
        return kind(pool_size=size[0], strides=strides[0], padding=padding)(x)

    def pad(self, x, rank):
        amounts = [(int(self.rng.integers(0, 3)), int(self.rng.integers(0, 3))) for _ in range(rank)]
        if rank == 2:
            return self.layers.ZeroPadding2D(padding=tuple(amounts))(x)
        return self.layers.ZeroPadding1D(padding=amounts[0])(x)

    def branch(self, x, rank):
        """Two paths from x joined by ADD, MUL or CONCATENATION (the shapes made to agree)."""
        L = self.layers
        join = self.pick(("add", "subtract", "multiply", "concat"))
        channels = int(x.shape[-1])
        conv = L.Conv2D if rank == 2 else L.Conv1D
        a = conv(channels if join != "concat" else int(self.rng.integers(1, 9)), 1, padding="same")(x)
        a = self.activation(a)
        b = x if self.chance(0.5) else self.activation(conv(channels, 3 if self.chance(0.5) else 1, padding="same")(x))
        if join == "add":
            return L.Add()([a, b])
        if join == "subtract":
            return L.Subtract()([a, b])
        if join == "multiply":
            return L.Multiply()([a, b])
        return L.Concatenate(axis=-1)([a, b])

    def body(self, x, rank):
        for _ in range(int(self.rng.integers(1, 5))):
            step = self.pick(("conv", "conv", "pool", "pad", "branch", "batchnorm", "activation", "mean", "dense",
                              "rescale", "crop", "causal", "max", "permute", "upsample", "split", "attention",
                              "atrous"))
            if step == "conv":
                x = self.conv(x, rank)
                if self.chance(0.6):
                    x = self.activation(x, allow_none=False)
            elif step == "pool":
                x = self.pool(x, rank)
            elif step == "pad":
                x = self.pad(x, rank)
            elif step == "branch":
                x = self.branch(x, rank)
            elif step == "max":
                # a global maximum that keeps its axes (REDUCE_MAX)
                x = (self.layers.GlobalMaxPooling2D if rank == 2 else self.layers.GlobalMaxPooling1D)(keepdims=True)(x)
            elif step == "mean":
                # a global average that keeps its axes (MEAN with keep_dims), then on as before
                x = (self.layers.GlobalAveragePooling2D if rank == 2 else self.layers.GlobalAveragePooling1D)(
                    keepdims=True)(x)
            elif step == "dense":
                # a Dense on every position (FULLY_CONNECTED over the last axis, keep_num_dims)
                x = self.layers.Dense(self.width())(x)
            elif step == "rescale":
                # constants broadcast over the tensor: ADD and MUL with a scalar (Keras' Rescaling)
                x = self.layers.Rescaling(float(self.rng.uniform(-2, 2)), float(self.rng.uniform(-1, 1)))(x)
            elif step == "crop":
                spatial = x.shape[1:1 + rank]
                cuts = [(int(self.rng.integers(0, max(1, s // 3) + 1)), int(self.rng.integers(0, max(1, s // 3) + 1)))
                        for s in spatial]
                if all(a + b < s for (a, b), s in zip(cuts, spatial)):
                    x = (self.layers.Cropping2D(tuple(cuts)) if rank == 2 else self.layers.Cropping1D(cuts[0]))(x)
            elif step == "causal" and rank == 1:
                # a causal convolution (PAD before CONV_2D), as in temporal models
                x = self.layers.Conv1D(self.width(), int(self.rng.integers(2, 5)), padding="causal",
                                       dilation_rate=int(self.rng.integers(1, 3)))(x)
            elif step == "permute":
                # the axes other than the batch in another order (TRANSPOSE)
                x = self.layers.Permute(tuple(int(a) + 1 for a in self.rng.permutation(rank + 1)))(x)
            elif step == "upsample" and int(np.prod(x.shape[1:])) <= 2048:
                # resizing to any size, nearest (RESIZE_NEAREST_NEIGHBOR; Keras 3's UpSampling2D writes
                # TILEs, which TFLite Micro lacks) or bilinear (RESIZE_BILINEAR), or UpSampling1D (CONCATENATIONs)
                if rank == 2:
                    h, w = (max(1, int(d * self.rng.uniform(0.5, 3))) for d in x.shape[1:3])
                    method = self.pick(("nearest", "bilinear"))      # RESIZE_BILINEAR: half pixel centers
                    x = self.layers.Lambda(lambda t, h=h, w=w, m=method: genmodels.tf.image.resize(t, (h, w), m))(x)
                else:
                    x = self.layers.UpSampling1D(int(self.rng.integers(2, 4)))(x)
            elif step == "split" and int(x.shape[-1]) >= 2:
                # the channels split in pieces that are rejoined in another order (SPLIT, SPLIT_V)
                tf = genmodels.tf
                cut = int(self.rng.integers(1, int(x.shape[-1])))
                x = self.layers.Lambda(lambda t, cut=cut: tf.concat(tf.split(t, [cut, t.shape[-1] - cut], -1)[::-1],
                                                                   -1))(x)
            elif step == "attention" and rank == 1 and int(x.shape[1]) <= 32:
                # self-attention over the steps (BATCH_MATMUL of two activations, SOFTMAX, TRANSPOSE)
                if self.chance(0.5):
                    x = self.layers.Attention(use_scale=self.chance(0.5))([x, x])
                else:
                    x = self.layers.MultiHeadAttention(int(self.rng.integers(1, 3)), int(self.rng.integers(2, 6)))(x, x)
            elif step == "atrous":
                x = self.atrous(x, rank)
            elif step == "batchnorm":
                # BatchNormalization (folded away or MUL and ADD), or LayerNormalization (SQUARED_DIFFERENCE)
                if self.chance(0.7):
                    x = self.layers.BatchNormalization()(x)
                else:
                    x = self.layers.LayerNormalization()(x)
            else:
                x = self.activation(x, allow_none=False)
        return x

    def atrous(self, x, rank):
        """A dilated convolution written out (a PAD, SPACE_TO_BATCH_ND, a VALID convolution, BATCH_TO_SPACE_ND with
        crops), a ReLU between so that the converter keeps the ops. The padding is a PAD of its own: TFLite Micro
        pads inside SPACE_TO_BATCH_ND with memory it never set (ops/shape.py), which no oracle can match."""
        tf, b, k = genmodels.tf, int(self.rng.integers(2, 4)), int(self.rng.integers(1, 4))
        pads, crops = [], []
        for size in (int(d) for d in x.shape[1:1 + rank]):
            total = -(-(size + (k - 1) * b) // b) * b       # the padded size: a multiple of b, the taps' reach
            before = int(self.rng.integers(0, total - size + 1))
            pads.append([before, total - size - before])
            crops.append([0, total - (k - 1) * b - size])
        x = self.layers.Lambda(lambda t: tf.nn.relu(tf.space_to_batch_nd(
            tf.pad(t, [[0, 0]] + pads + [[0, 0]]), [b] * rank, [[0, 0]] * rank)))(x)
        x = (self.layers.Conv2D if rank == 2 else self.layers.Conv1D)(self.width(), k)(x)
        return self.layers.Lambda(lambda t: tf.batch_to_space(t, [b] * rank, crops))(x)

    def head(self, x, rank):
        L = self.layers
        end = self.pick(("dense", "gap", "gmp", "none") + (("rnn",) if rank == 1 and x.shape[1] <= 8 else ())
                        if rank else ("dense",))
        if end == "rnn":
            # a recurrent layer unrolled over the steps (UNPACK, SPLIT of its gates, FULLY_CONNECTED, LUTs, ...)
            kind = self.pick((L.SimpleRNN, L.GRU, L.LSTM))
            x = kind(int(self.rng.integers(1, 9)), unroll=True)(x)
        elif end == "gap":
            x = (L.GlobalAveragePooling2D if rank == 2 else L.GlobalAveragePooling1D)()(x)
        elif end == "gmp":
            x = (L.GlobalMaxPooling2D if rank == 2 else L.GlobalMaxPooling1D)()(x)
        elif end == "dense" and rank:
            x = L.Flatten()(x)
        if end not in ("none", "rnn") or (end == "rnn" and self.chance(0.5)):
            for _ in range(int(self.rng.integers(1, 3))):
                x = L.Dense(int(self.rng.integers(1, 33)))(x)
                x = self.activation(x)
        last = self.pick(("softmax", "softmax", "log_softmax", "l2", "argmax", "none", "none", "none"))
        if last == "softmax":
            x = L.Softmax()(x)
        elif last == "log_softmax":
            x = L.Lambda(lambda t: genmodels.tf.nn.log_softmax(t, axis=-1))(x)
        elif last == "l2":
            x = L.Lambda(lambda t: genmodels.tf.math.l2_normalize(t, axis=-1))(x)
        elif last == "argmax":      # int32 indices (ARG_MAX)
            x = L.Lambda(lambda t: genmodels.tf.argmax(t, axis=-1, output_type=genmodels.tf.int32))(x)
        return x

    def model(self):
        rank = self.pick((0, 1, 1, 2, 2))
        if rank == 0:
            shape = (int(self.rng.integers(1, 65)),)
        elif rank == 1:
            shape = (int(self.rng.integers(4, 49)), int(self.rng.integers(1, 9)))
        else:
            shape = (int(self.rng.integers(3, 21)), int(self.rng.integers(3, 21)), int(self.rng.integers(1, 9)))
        inputs = [genmodels._input(shape)]
        x = inputs[0]
        if self.chance(0.15):       # a second input, joined to the first
            inputs.append(genmodels._input(shape))
            join = self.pick((self.layers.Add, self.layers.Multiply, self.layers.Concatenate))
            x = join()([self.activation(x), inputs[1]])
        x = self.body(x, rank) if rank else x
        outputs = [self.head(x, rank)]
        if self.chance(0.15):       # a second output from the same features
            outputs.append(self.head(x, rank))
        return genmodels.keras.Model(inputs, outputs)


def build(seed, number):
    """(the .tflite bytes, float_io) of case (seed, number); None when Keras cannot build the drawn architecture
    (a shape that ran out: a valid pooling or convolution on a too small input) or TensorFlow cannot convert it,
    and when the file has no op."""
    genmodels._import_tensorflow()
    rng = np.random.default_rng([seed, number])
    genmodels.keras.backend.clear_session()
    genmodels.keras.utils.set_random_seed(int(rng.integers(2 ** 31)))
    try:
        model = Draw(rng).model()
    except ValueError:
        return None, False
    if any(d == 0 for layer in model.layers for d in layer.output.shape[1:]):
        return None, False
    genmodels._randomize_bias_and_batchnorm(model, int(rng.integers(2 ** 31)))
    # some layers' weights scaled far up or down: requantization multipliers and shifts at their extremes (the
    # kernels' general paths beside their shortcuts), sums beyond what the shortcuts take
    for layer in model.layers:
        kernels = [w for w in layer.weights if "kernel" in w.name]
        if kernels and rng.random() < 0.3:
            factor = float(10 ** rng.uniform(-3, 2.5))
            for w in kernels:
                w.assign(w.numpy() * factor)
    # the inputs' range and centre drawn too, so that zero points and scales vary
    scale, centre = float(10 ** rng.uniform(-2.5, 2.5)), float(rng.uniform(-1, 1))
    samples = [[(rng.standard_normal((1,) + tuple(i.shape[1:])) + centre).astype(np.float32) * scale
                for i in model.inputs] for _ in range(genmodels.N_REPRESENTATIVE)]
    float_io = bool(rng.random() < 0.2)
    try:
        data = genmodels.convert(model, float_io=float_io, samples=samples)
    except Exception as e:     # the converter's own failures (a shape combination it cannot lower, a
        # TRANSPOSE_CONV whose bias its calibration cannot prepare)
        if type(e).__name__ != "ConverterError" and "failed to prepare" not in str(e):
            raise
        return None, False
    import tflite
    if not tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).OperatorsLength():
        return None, False      # every layer drawn was an identity: a file of no op
    return data, float_io


def runtimes(device, emulated=False):
    """(name, run(blob, feeds) -> per feed the outputs) of each picoml runtime to compare: the reference's C twins
    always; device: the unix port's three backends; emulated: the kernels as built for the chips (the M4's and
    M0's assembly, the ESP32 module's code) on emulated cores (bare-m4 on QEMU, bare-m0plus on rp2040js,
    bare-xtensa on QEMU)."""
    from picoml.runtimes.bare import BareMetal
    from picoml.runtimes.c import CRuntime, load
    from picoml.runtimes.unix import UnixPort

    def c_runtime(library):
        def run(blob, feeds):
            loaded = CRuntime(blob, load(library))
            return [loaded.run(feed) for feed in feeds]
        return run

    found = [("c", c_runtime("libpicoml.so")), ("c-m4", c_runtime("libpicoml_m4.so")),
             ("c-m0", c_runtime("libpicoml_m0.so"))]
    if device:
        for backend in ("native", "viper", "python"):
            found.append(("unix-" + backend,
                          lambda blob, feeds, b=backend: UnixPort().run_batch(blob, feeds, b).outputs))
    if emulated:
        for core in ("m4", "m0plus", "xtensa"):
            found.append(("bare-" + core, lambda blob, feeds, c=core: BareMetal(c).run_batch(blob, feeds).outputs))
    return found


def tflm_aborts(tflite_bytes):
    """None when TFLite Micro loads the model (or refuses it) in a forked child, else how the child died: on
    degenerate scales (an ADD's output scale near zero, a SOFTMAX's input scale of 1e-8) its prepare asserts and
    aborts the whole process instead of refusing the model."""
    import os
    import signal
    from picoml.oracle import Oracle
    pid = os.fork()
    if pid == 0:
        import faulthandler
        faulthandler.disable()      # (pytest's would print the expected abort's traceback into the test log)
        try:
            Oracle(tflite_bytes)
        except BaseException:
            pass
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "it died of %s while loading the model" % signal.Signals(os.WTERMSIG(status)).name
    return None


def check(tflite_bytes, float_io, name, device=False, emulated=False):
    """None when TFLite Micro and every picoml runtime give the same bytes for N_INPUTS inputs, else what differed.
    A model with a rescaling RELU6 (the one known departure: oracle_compare.rescaling_relus) is compared with
    TFLite Micro op by op, every other op on TFLite Micro's own inputs. UnsupportedModelError (picoml refuses the
    model) passes through."""
    from oracle_compare import converted, first_difference, op_by_op_differences, rescaling_relus
    from picoml import reference
    from picoml.oracle import Oracle

    aborts = tflm_aborts(tflite_bytes)
    if aborts:
        raise RuntimeError("TFLM aborts: %s" % aborts)
    oracle = Oracle(tflite_bytes, keep_all_tensors=True)      # first: a model TFLite Micro refuses is skipped
    model, blob, sources = converted(tflite_bytes, name)
    departures = [model.ops[i] for i in rescaling_relus(tflite_bytes, model)]
    in_tensors = [model.tensors[e.tensor] for e in model.inputs]
    per_input = [test_inputs(t.shape, t.zero_point, N_INPUTS, seed=len(tflite_bytes) + j)
                 for j, t in enumerate(in_tensors)]
    xs = [[per_input[j][k] for j in range(len(in_tensors))] for k in range(N_INPUTS)]
    want = []
    for k, x in enumerate(xs):
        feed = [reference.dequantize(v, t.scale, t.zero_point) if float_io else v for v, t in zip(x, in_tensors)]
        theirs = [np.asarray(w).reshape(-1) for w in oracle.run(feed)]
        ours = reference.run(model, feed)
        if departures:
            differ = op_by_op_differences(model, sources, oracle, lambda op: any(op is d for d in departures))
            if differ:
                return "reference, input %d: %s" % (k, ", ".join(differ))
        else:
            for w, g, e in zip(theirs, ours, model.outputs):
                o = model.tensors[e.tensor]
                if not np.array_equal(w, (reference.dequantize(g, o.scale, o.zero_point) if e.float_edge else g)
                                      .reshape(-1)):
                    return "reference, input %d: %s" % (k, first_difference(model, sources, oracle, feed)
                                                        or "the outputs differ")
        want.append([g.reshape(-1) for g in ours])
    for runtime, run in runtimes(device, emulated):
        for k, outputs in enumerate(run(blob, xs)):
            for w, g in zip(want[k], outputs):
                if not np.array_equal(w, np.asarray(g).reshape(-1)):
                    return "%s, input %d: differs from the reference" % (runtime, k)
    return None


def run_case(seed, number, device=False, keep=None, emulated=False):
    """("agreed" | "refused" | "differed" | "skipped" | "failed", detail) of one case: skipped when Keras cannot
    build the drawn shapes or TFLite Micro cannot run the model."""
    from picoml.errors import UnsupportedModelError
    name = "random-%d-%d" % (seed, number)
    data, float_io = build(seed, number)
    if data is None:
        return "skipped", "Keras or the TFLite converter could not build it"
    if keep:
        pathlib.Path(keep).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(keep) / (name + ".tflite")).write_bytes(data)
    try:
        problem = check(data, float_io, name, device, emulated)
    except UnsupportedModelError as e:
        return "refused", str(e).splitlines()[0]
    except Exception as e:
        if isinstance(e, RuntimeError) and str(e).startswith("TFLM"):     # it refuses the model, or would abort
            return "skipped", "TFLite Micro cannot run it: %s" % e
        return "failed", traceback.format_exc(limit=6)
    return ("agreed", "") if problem is None else ("differed", problem)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--case", help="SEED:NUMBER, one case")
    parser.add_argument("--device", action="store_true", help="also the device library on the unix port")
    parser.add_argument("--emulated", action="store_true",
                        help="also the kernels as built for the chips, on emulated Cortex-M4, M0+ and Xtensa cores")
    parser.add_argument("--keep", help="a folder to write each case's .tflite into")
    args = parser.parse_args(argv)
    if args.case:
        seed, number = (int(v) for v in args.case.split(":"))
        cases = [(seed, number)]
    else:
        cases = [(args.seed, n) for n in range(args.first, args.first + args.cases)]
    counts = {}
    for seed, number in cases:
        outcome, detail = run_case(seed, number, args.device, args.keep, args.emulated)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome != "agreed":
            print("case %d:%d %s: %s" % (seed, number, outcome, detail), flush=True)
    print(", ".join("%s %d" % kv for kv in sorted(counts.items())))
    return 1 if counts.get("differed") or counts.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
